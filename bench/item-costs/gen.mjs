// Hand-encoded extreme-count OTLP requests.
export function varint(v) { const out = []; while (v >= 0x80) { out.push((v % 0x80) | 0x80); v = Math.floor(v / 0x80); } out.push(v); return Buffer.from(out); }
export function field(tag, payload) { return Buffer.concat([varint(tag), varint(payload.length), payload]); }
const str = (s) => Buffer.from(s);
export function resource(service) {
  return field((1 << 3) | 2, field((1 << 3) | 2, Buffer.concat([field((1 << 3) | 2, str('service.name')), field((2 << 3) | 2, field((1 << 3) | 2, str(service)))])));
}
/** ~targetBytes of minimal spans over `traces` trace ids (trace i: 16 bytes, i in last 4 bytes, prefix byte p). */
export function traceRequest(targetBytes, traces, prefix = 0xaa, service = 'svc') {
  const SPAN = 48;
  const n = Math.floor((targetBytes - 200) / SPAN);
  const spans = Buffer.alloc(n * SPAN);
  const t0 = BigInt(Date.now()) * 1_000_000n;
  for (let i = 0; i < n; i++) {
    const o = i * SPAN;
    spans[o] = 0x12; spans[o + 1] = 46; // ScopeSpans.spans
    spans[o + 2] = 0x0a; spans[o + 3] = 16; spans.fill(prefix, o + 4, o + 16); spans.writeUInt32BE(i % traces, o + 16);
    spans[o + 20] = 0x12; spans[o + 21] = 8; spans.writeUInt32BE(i + 1, o + 26);
    spans[o + 30] = 0x39; spans.writeBigUInt64LE(t0, o + 31);
    spans[o + 39] = 0x41; spans.writeBigUInt64LE(t0 + 1000n, o + 40);
  }
  const scope = Buffer.concat([varint((2 << 3) | 2), varint(spans.length), spans]);
  const rs = Buffer.concat([resource(service), scope]);
  return { bytes: field((1 << 3) | 2, rs), spans: n };
}
export function traceIdOf(i, prefix = 0xaa) { const b = Buffer.alloc(16, prefix); b.writeUInt32BE(i, 12); return b.toString('hex'); }
/** ~targetBytes of tiny log records (time only: 11 bytes each). */
export function logsRequest(targetBytes, empty = false) {
  const REC = empty ? 2 : 11;
  const n = Math.floor((targetBytes - 200) / REC);
  const recs = Buffer.alloc(n * REC);
  const t0 = BigInt(Date.now()) * 1_000_000n;
  for (let i = 0; i < n; i++) { const o = i * REC; recs[o] = 0x12; recs[o + 1] = REC - 2; if (!empty) { recs[o + 2] = 0x09; recs.writeBigUInt64LE(t0 + BigInt(i), o + 3); } }
  const scope = Buffer.concat([varint((2 << 3) | 2), varint(recs.length), recs]);
  return { bytes: field((1 << 3) | 2, Buffer.concat([resource('logsvc'), scope])), records: n };
}
/** `services` ResourceSpans, each its own service.name (~nameLen chars) and one minimal span. */
export function manyServicesRequest(services, nameLen = 40, seed = 0) {
  const parts = [];
  const t0 = BigInt(Date.now()) * 1_000_000n;
  for (let s = 0; s < services; s++) {
    const name = `svc-${seed}-${s}-`.padEnd(nameLen, 'x');
    const span = Buffer.alloc(46);
    span[0] = 0x0a; span[1] = 16; span.fill(0xcc, 2, 14); span.writeUInt32BE(seed * 100000 + (s % 50), 14);
    span[18] = 0x12; span[19] = 8; span.writeUInt32BE(s + 1, 24);
    span[28] = 0x39; span.writeBigUInt64LE(t0, 29); span[37] = 0x41; span.writeBigUInt64LE(t0 + 1000n, 38);
    parts.push(field((1 << 3) | 2, Buffer.concat([resource(name), field((2 << 3) | 2, field((2 << 3) | 2, span))])));
  }
  return Buffer.concat(parts);
}
