// The scanner's fast path for plain attributes (WireReader.skimPlainKeyValue) must never accept what the general
// schema walk refuses, and must end where it ends. Checked differentially on KeyValue-shaped bytes: the common shapes
// the fast path takes, and mutations and truncations of them, inside an enclosing message that may end early.
import fc from 'fast-check';
import { MalformedPayloadError } from '../../src/errors.js';
import { KEY_VALUE } from '../../src/otlp/schema.js';
import { WireReader } from '../../src/otlp/wire.js';

function varint(value: number): number[] {
  const out: number[] = [];
  while (value >= 0x80) {
    out.push((value & 0x7f) | 0x80);
    value = Math.floor(value / 128);
  }
  out.push(value);
  return out;
}

const lengthDelimited = (tag: number, body: number[]): number[] => [tag, ...varint(body.length), ...body];

/** The KeyValue payload (without its own length): key, then one AnyValue of a simple kind. */
const keyValue = fc
  .record({
    key: fc.uint8Array({ maxLength: 200 }),
    kind: fc.constantFrom('string', 'bool', 'int', 'double', 'empty', 'bytes', 'nested'),
    text: fc.uint8Array({ maxLength: 300 }),
    number: fc.oneof(fc.integer({ min: 0, max: 127 }), fc.integer({ min: 128, max: 2 ** 31 }), fc.constant(2 ** 53)),
  })
  .map(({ key, kind, text, number }) => {
    const value =
      kind === 'string' ? lengthDelimited(0x0a, [...text])
      : kind === 'bool' ? [0x10, number & 1]
      : kind === 'int' ? [0x18, ...varint(number)]
      : kind === 'double' ? [0x21, 1, 2, 3, 4, 5, 6, 7, 8]
      : kind === 'empty' ? []
      : kind === 'bytes' ? lengthDelimited(0x3a, [...text])
      : lengthDelimited(0x2a, lengthDelimited(0x0a, [0x10, 1]));
    return [...lengthDelimited(0x0a, [...key]), ...lengthDelimited(0x12, value)];
  });

type Mutation = { at: number; byte: number } | { cut: number } | { slack: number };

function general(bytes: Uint8Array, end: number): number | 'refused' {
  const reader = new WireReader(bytes, 'Test');
  try {
    const length = reader.readVarintNumber(end, KEY_VALUE);
    const kvEnd = reader.pos + length;
    if (kvEnd > end) return 'refused';
    reader.skimMessage(KEY_VALUE, kvEnd, 1);
    return reader.pos;
  } catch (error) {
    if (error instanceof MalformedPayloadError) return 'refused';
    throw error;
  }
}

function fast(bytes: Uint8Array, end: number): number | 'declined' {
  const reader = new WireReader(bytes, 'Test');
  return reader.skimPlainKeyValue(end) ? reader.pos : 'declined';
}

test('whatever the fast path takes, the schema walk takes too, and both end at the same byte', () => {
  let taken = 0;
  fc.assert(
    fc.property(keyValue, fc.array(fc.oneof(
      fc.record({ at: fc.nat(600), byte: fc.integer({ min: 0, max: 255 }) }),
      fc.record({ cut: fc.nat(600) }),
      fc.record({ slack: fc.integer({ min: -3, max: 3 }) }),
    ), { maxLength: 2 }), (payload, mutations: Mutation[]) => {
      let bytes = [...varint(payload.length), ...payload];
      let end = bytes.length;
      for (const m of mutations) {
        if ('at' in m) {
          if (bytes.length > 0) bytes[m.at % bytes.length] = m.byte;
        } else if ('cut' in m) {
          bytes = bytes.slice(0, m.cut % (bytes.length + 1));
          end = Math.min(end, bytes.length);
        } else {
          end = Math.max(0, Math.min(bytes.length, end + m.slack));
        }
      }
      // Bytes after `end` belong to someone else: the fast path must not be fooled by them.
      const buffer = Uint8Array.from([...bytes, 0x0a, 0x05, 1, 2, 3, 4, 5]);
      const got = fast(buffer, end);
      if (got === 'declined') return;
      taken += 1;
      expect(general(buffer, end)).toBe(got);
    }),
    { numRuns: 20_000 },
  );
  // The property is only worth something if the fast path took a good share of the cases.
  expect(taken).toBeGreaterThan(3_000);
});

test('plain shapes of every kind are taken', () => {
  const cases: number[][] = [
    [...lengthDelimited(0x0a, [0x61]), ...lengthDelimited(0x12, lengthDelimited(0x0a, new Array(200).fill(0x62)))],
    [...lengthDelimited(0x0a, new Array(130).fill(0x61)), ...lengthDelimited(0x12, [0x18, ...varint(5432)])],
    [...lengthDelimited(0x0a, [0x61]), ...lengthDelimited(0x12, [0x10, 1])],
    [...lengthDelimited(0x0a, [0x61]), ...lengthDelimited(0x12, [0x21, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f])],
    [...lengthDelimited(0x0a, [0x61]), ...lengthDelimited(0x12, [])],
  ];
  for (const payload of cases) {
    const bytes = Uint8Array.from([...varint(payload.length), ...payload]);
    expect(fast(bytes, bytes.length)).toBe(bytes.length);
    expect(general(bytes, bytes.length)).toBe(bytes.length);
  }
});
