// Small, unique, valid OTLP trace requests (one span each, padded to a size), encoded with protobufjs from our
// .proto files. Unique content lets a test tell every request apart by its bytes.
import { requestType } from '../../src/otlp/proto-root.js';

export function uniqueTraceRequest(n: number, padBytes = 1024, service = 'test-service'): Buffer {
  const traceId = Buffer.alloc(16);
  traceId.writeUInt32BE(n + 1, 12);
  traceId.writeUInt32BE(0xc0ffee, 0);
  const spanId = Buffer.alloc(8);
  spanId.writeUInt32BE(n + 1, 4);
  const start = BigInt(Date.UTC(2026, 0, 1)) * 1_000_000n + BigInt(n) * 1000n;
  const type = requestType('traces');
  const message = type.fromObject({
    resourceSpans: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: service } }] },
        scopeSpans: [
          {
            scope: { name: 'tests' },
            spans: [
              {
                traceId,
                spanId,
                name: `operation-${n}`,
                kind: 2,
                startTimeUnixNano: start.toString(),
                endTimeUnixNano: (start + 5_000_000n).toString(),
                attributes: [{ key: 'padding', value: { stringValue: 'x'.repeat(padBytes) } }],
              },
            ],
          },
        ],
      },
    ],
  });
  return Buffer.from(type.encode(message).finish());
}

/**
 * A trace request of `spans` minimal spans, each in a trace of its own (`spans` distinct trace ids), trace ids unique
 * to `n`: what costs the index most per byte.
 */
export function distinctTracesRequest(n: number, spans: number): Buffer {
  const spanBytes = (i: number): Buffer => {
    const span = Buffer.alloc(50);
    let o = 0;
    span[o++] = 0x0a; span[o++] = 16; // trace_id
    span.writeUInt32BE(0x7ace0000 + n, o);
    span.writeUInt32BE(i + 1, o + 12);
    o += 16;
    span[o++] = 0x12; span[o++] = 8; // span_id
    span.writeUInt32BE(i + 1, o + 4);
    o += 8;
    span[o++] = 0x2a; span[o++] = 2; span.write('op', o); o += 2; // name
    span[o++] = 0x39; span.writeBigUInt64LE(1_700_000_000_000_000_000n + BigInt(i), o); o += 8; // start
    span[o++] = 0x41; span.writeBigUInt64LE(1_700_000_000_000_001_000n + BigInt(i), o); o += 8; // end
    return span.subarray(0, o);
  };
  const scope = lengthField(2, Buffer.concat(Array.from({ length: spans }, (_, i) => lengthField(2, spanBytes(i)))));
  return lengthField(1, scope);
}

/** A length-delimited protobuf field: its tag, the body's length, the body. */
export function lengthField(fieldNumber: number, body: Buffer): Buffer {
  return Buffer.concat([varint(fieldNumber * 8 + 2), varint(body.length), body]);
}

export function varint(value: number): Buffer {
  const out: number[] = [];
  while (value >= 0x80) {
    out.push((value & 0x7f) | 0x80);
    value = Math.floor(value / 128);
  }
  out.push(value);
  return Buffer.from(out);
}
