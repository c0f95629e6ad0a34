// One Export of a request that is extreme in count, to a running serve (docs/BENCHMARKS.md, "Item counts"):
//   node bench/item-costs/ingest.mjs traces N [host:port]     N minimal spans, each in a trace of its own
//   node bench/item-costs/ingest.mjs services N [host:port]   N resources, each with its own service.name
// Watch the server's VmHWM in /proc/<pid>/status around it; run several at once for concurrent requests.
import grpc from '@grpc/grpc-js';

const [kind, count, target = '127.0.0.1:4317'] = process.argv.slice(2);
const N = Number(count);
const varint = (v) => { const o = []; while (v >= 0x80) { o.push((v & 0x7f) | 0x80); v = Math.floor(v / 128); } o.push(v); return Buffer.from(o); };
const field = (n, body) => Buffer.concat([varint(n * 8 + 2), varint(body.length), body]);
const fixed64 = (n, value) => { const b = Buffer.alloc(9); b[0] = n * 8 + 1; b.writeBigUInt64LE(value, 1); return b; };

function span(traceId, i) {
  const spanId = Buffer.alloc(8);
  spanId.writeUInt32BE(i + 1, 4);
  const start = 1_700_000_000_000_000_000n + BigInt(i);
  return field(2, Buffer.concat([field(1, traceId), field(2, spanId), fixed64(7, start), fixed64(8, start + 1000n)]));
}

let request;
if (kind === 'traces') {
  const spans = [];
  for (let i = 0; i < N; i++) {
    const traceId = Buffer.alloc(16);
    traceId.writeUInt32BE(process.pid, 0);
    traceId.writeUInt32BE(i + 1, 12);
    spans.push(span(traceId, i));
  }
  request = field(1, field(2, Buffer.concat(spans)));
} else if (kind === 'services') {
  const shared = Buffer.alloc(16, 7);
  const resources = [];
  for (let i = 0; i < N; i++) {
    const name = field(1, Buffer.concat([field(1, Buffer.from('service.name')), field(2, field(1, Buffer.from(`svc-${i}-${process.pid}`)))]));
    resources.push(field(1, Buffer.concat([field(1, name), field(2, span(shared, i))])));
  }
  request = Buffer.concat(resources);
} else {
  console.error('usage: ingest.mjs traces|services N [host:port]');
  process.exit(2);
}
console.log(`${kind}: request of ${(request.length / 2 ** 20).toFixed(1)} MiB, ${N} ${kind === 'traces' ? 'spans in as many traces' : 'service names'}`);
const client = new grpc.Client(target, grpc.credentials.createInsecure(), { 'grpc.max_send_message_length': -1 });
const started = Date.now();
client.makeUnaryRequest('/opentelemetry.proto.collector.trace.v1.TraceService/Export', (b) => b, (b) => b, request, (error) => {
  console.log(error ? `refused: ${grpc.status[error.code]} ${error.details}` : `acknowledged in ${Date.now() - started} ms`);
  client.close();
});
