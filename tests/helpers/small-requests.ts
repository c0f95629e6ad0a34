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
