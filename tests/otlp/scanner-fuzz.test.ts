// Property tests: whatever bytes arrive, scanRequest answers quickly with a result or a MalformedPayloadError — and a
// result it gives for mutated input still agrees with a full protobufjs decode of that input.
import fc from 'fast-check';
import { performance } from 'node:perf_hooks';
import { MalformedPayloadError } from '../../src/errors.js';
import { SIGNALS } from '../../src/model.js';
import type { ScanResult, Signal } from '../../src/model.js';
import { scanRequest } from '../../src/otlp/scanner.js';
import { metricsPayloadWithSummaryAndExemplars, payloadFor, referenceScan, wire } from '../helpers/otlp-payloads.js';

/** Generous: a scan of these inputs takes well under a millisecond; this only catches hangs and blow-ups. */
// A hang detector, not a speed test: generous so a loaded CI machine never trips it.
const MAX_CALL_MS = 2000;
/** FUZZ_SCALE=20 runs twenty times the cases (for hunting; CI uses the default). */
const SCALE = Number(process.env.FUZZ_SCALE ?? 1);

type Outcome = { ok: true; result: ScanResult } | { ok: false; error: MalformedPayloadError };

function scanChecked(signal: Signal, bytes: Uint8Array): Outcome {
  const started = performance.now();
  let outcome: Outcome;
  try {
    outcome = { ok: true, result: scanRequest(signal, bytes) };
  } catch (error) {
    // Anything but a MalformedPayloadError — or one wrapping an unexpected error (it then has a cause) — is a bug.
    if (!(error instanceof MalformedPayloadError) || error.cause !== undefined) throw error;
    expect(error.message).toMatch(/^malformed Export(Trace|Metrics|Logs)ServiceRequest: .+ \(at byte \d+\)$/);
    outcome = { ok: false, error };
  }
  expect(performance.now() - started).toBeLessThan(MAX_CALL_MS);
  return outcome;
}

/**
 * Inputs that are valid protobuf but that protobufjs cannot decode: its 32-bit varint reader assumes a varint of more
 * than 5 bytes is a 10-byte one, so a legal 6-9 byte varint in a bool/uint32/enum field (e.g. a flipped tag turning
 * an int64 into a bool) throws "index out of range" — at once, or later, when the 5 bytes it skipped too many put it
 * inside another field (a 6-byte varint followed by a fixed32 failed as "index out of range: 16 + 1 > 16", or with
 * no numbers). The scanner is right to accept those; they are counted so a test can check they stay rare, and the
 * comparison is skipped for them.
 */
let referenceLimitations = 0;

/** A varint of 6-9 bytes: 5 or more continuation bytes in a row (protobufjs reads those as 10 in 32-bit fields). */
function hasLongVarint(bytes: Uint8Array): boolean {
  let run = 0;
  for (const byte of bytes) {
    run = byte >= 0x80 ? run + 1 : 0;
    if (run >= 5) return true;
  }
  return false;
}

/** When the scanner accepts, a full decode must too (bar protobufjs' own limitation), and count the same items. */
function agreesWithFullDecode(signal: Signal, bytes: Uint8Array, result: ScanResult): void {
  let reference: ReturnType<typeof referenceScan>;
  try {
    reference = referenceScan(signal, bytes);
  } catch (error) {
    if (error instanceof RangeError && /^index out of range/.test(error.message) && hasLongVarint(bytes)) {
      referenceLimitations++;
      return;
    }
    throw error;
  }
  if (signal === 'metrics') {
    // protobufjs replaces a repeated singular message field (e.g. Metric.gauge twice) where protobuf merges, so a full
    // decode can see fewer points than are on the wire; never more.
    expect(result.items).toBeGreaterThanOrEqual(reference.items);
  } else {
    expect(result.items).toBe(reference.items);
    expect(result.traceIds).toEqual(reference.traceIds);
  }
}

const signalArb = fc.constantFrom(...SIGNALS);

describe('scanRequest on hostile input', () => {
  test('random bytes: a result or MalformedPayloadError, quickly', () => {
    fc.assert(fc.property(signalArb, fc.uint8Array({ maxLength: 4096 }), (signal, bytes) => {
      const outcome = scanChecked(signal, bytes);
      if (outcome.ok) agreesWithFullDecode(signal, bytes, outcome.result);
    }), { numRuns: 1000 * SCALE });
  });

  test('random protobuf-shaped messages (valid framing, arbitrary fields and nesting)', () => {
    // Field numbers 1..16 hit the known fields of every OTLP message, with right and wrong wire types alike.
    const { field } = fc.letrec<{ field: number[]; message: number[] }>((tie) => ({
      field: fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        fc.tuple(fc.integer({ min: 1, max: 16 }), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }))
          .map(([number, value]) => wire.uvarint(number, value)),
        fc.tuple(fc.integer({ min: 1, max: 16 }), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }))
          .map(([number, value]) => wire.fixed64(number, value)),
        fc.tuple(fc.integer({ min: 1, max: 16 }), fc.integer({ min: 0, max: 0xffffffff })).map(([number, value]) => {
          const bytes = Buffer.alloc(4);
          bytes.writeUInt32LE(value);
          return [...wire.tag(number, 5), ...bytes];
        }),
        fc.tuple(fc.integer({ min: 1, max: 16 }), fc.constantFrom(0, 8, 16, 3), fc.integer({ min: 0, max: 255 }))
          .map(([number, length, fill]) => wire.len(number, Buffer.alloc(length, fill))),
        fc.tuple(fc.integer({ min: 1, max: 16 }), tie('message')).map(([number, body]) => wire.len(number, body)),
      ),
      message: fc.array(tie('field'), { maxLength: 5 }).map((fields) => fields.flat()),
    }));
    const request = fc.array(field, { maxLength: 8 }).map((fields) => Uint8Array.from(fields.flat()));
    let accepted = 0;
    fc.assert(fc.property(signalArb, request, (signal, bytes) => {
      const outcome = scanChecked(signal, bytes);
      if (outcome.ok) {
        accepted++;
        agreesWithFullDecode(signal, bytes, outcome.result);
      }
    }), { numRuns: 1500 * SCALE });
    expect(accepted).toBeGreaterThan(50); // the generator does reach deep into valid requests
  });
});

describe('scanRequest on mutated valid payloads', () => {
  const pool: { signal: Signal; proto: Uint8Array; lengthFields: LengthField[] }[] = [
    ...SIGNALS.flatMap((signal) => [1, 2].map((seed) => ({ signal, proto: payloadFor(signal, seed).proto }))),
    { signal: 'metrics' as const, proto: metricsPayloadWithSummaryAndExemplars(3).proto },
  ].map((entry) => ({ ...entry, lengthFields: findLengthFields(entry.proto) }));

  const mutation = fc.oneof(
    fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
    fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
    fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 12 }) }),
    fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), count: fc.integer({ min: 1, max: 12 }) }),
    fc.record({ kind: fc.constant('overwrite' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
    fc.record({
      kind: fc.constant('length' as const), which: fc.nat(),
      value: fc.oneof(fc.integer({ min: 0, max: 300 }), fc.constantFrom(0x7f, 0x80, 0x3fff, 0xffffffff, 2 ** 53)),
    }),
  );
  type Mutation = typeof mutation extends fc.Arbitrary<infer M> ? M : never;

  function mutate(proto: Uint8Array, lengthFields: readonly LengthField[], m: Mutation): Uint8Array {
    const bytes = Buffer.from(proto);
    const at = (m.kind === 'length' ? 0 : m.at) % (bytes.length + 1);
    switch (m.kind) {
      case 'flip':
        if (at < bytes.length) bytes[at]! ^= 1 << m.bit;
        return bytes;
      case 'truncate':
        return bytes.subarray(0, at);
      case 'insert':
        return Buffer.concat([bytes.subarray(0, at), m.bytes, bytes.subarray(at)]);
      case 'delete':
        return Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + m.count)]);
      case 'overwrite':
        if (at < bytes.length) bytes[at] = m.byte;
        return bytes;
      case 'length': {
        const field = lengthFields[m.which % lengthFields.length]!;
        return Buffer.concat([bytes.subarray(0, field.at), Uint8Array.from(wire.varint(m.value)), bytes.subarray(field.at + field.size)]);
      }
    }
  }

  test('bit flips, truncations, insertions, deletions, overwrites, corrupted lengths', () => {
    let rejected = 0;
    fc.assert(fc.property(fc.nat(), fc.array(mutation, { minLength: 1, maxLength: 3 }), (pick, mutations) => {
      const { signal, proto, lengthFields } = pool[pick % pool.length]!;
      const bytes = mutations.reduce<Uint8Array>((current, m) => mutate(current, lengthFields, m), proto);
      const outcome = scanChecked(signal, bytes);
      if (outcome.ok) agreesWithFullDecode(signal, bytes, outcome.result);
      else rejected++;
    }), { numRuns: 1500 * SCALE });
    expect(rejected).toBeGreaterThan(300 * SCALE); // most mutations break framing: the property is not vacuous
    expect(referenceLimitations).toBeLessThan(15 * SCALE);
  });

  test('every truncation of a valid payload is either a shorter valid request or a MalformedPayloadError', () => {
    const { proto } = payloadFor('logs', 4);
    let rejected = 0;
    for (let length = 0; length < proto.length; length++) {
      const outcome = scanChecked('logs', proto.subarray(0, length));
      if (!outcome.ok) rejected++;
    }
    expect(rejected).toBeGreaterThan(proto.length * 0.9);
  });
});

interface LengthField {
  /** Offset and size of the length varint of a length-delimited field. */
  at: number;
  size: number;
}

/** Every length prefix in a valid encoding, nested ones included (payloads that parse as messages are walked). */
function findLengthFields(bytes: Uint8Array): LengthField[] {
  const found: LengthField[] = [];
  const readVarint = (pos: number, end: number): [number, number] | null => {
    let value = 0;
    for (let i = 0; i < 10 && pos + i < end; i++) {
      const b = bytes[pos + i]!;
      value += (b & 0x7f) * 2 ** (7 * i);
      if (b < 0x80) return [value, i + 1];
    }
    return null;
  };
  const walk = (start: number, end: number): LengthField[] | null => {
    const fields: LengthField[] = [];
    let pos = start;
    while (pos < end) {
      const tag = readVarint(pos, end);
      if (tag === null || tag[0] < 8) return null;
      pos += tag[1];
      const wireType = tag[0] % 8;
      if (wireType === 0) {
        const v = readVarint(pos, end);
        if (v === null) return null;
        pos += v[1];
      } else if (wireType === 1 || wireType === 5) {
        pos += wireType === 1 ? 8 : 4;
      } else if (wireType === 2) {
        const length = readVarint(pos, end);
        if (length === null || pos + length[1] + length[0] > end) return null;
        fields.push({ at: pos, size: length[1] });
        pos += length[1];
        fields.push(...(walk(pos, pos + length[0]) ?? []));
        pos += length[0];
      } else {
        return null;
      }
    }
    return pos === end ? fields : null;
  };
  found.push(...(walk(0, bytes.length) ?? []));
  return found;
}
