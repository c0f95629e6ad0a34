// Field-by-field comparison of two OTLP requests decoded with protobufjs, for tests of time shifting: every
// timestamp moved by exactly the offset (zero stays zero), everything else equal.
import type { Signal } from '../../src/model.js';
import { requestType } from '../../src/otlp/proto-root.js';

/** Every OTLP timestamp field, by its protobufjs (camelCase) name. */
const TIME_KEYS = new Set(['startTimeUnixNano', 'endTimeUnixNano', 'timeUnixNano', 'observedTimeUnixNano']);

export function decodeRequest(signal: Signal, bytes: Uint8Array): unknown {
  const type = requestType(signal);
  return type.toObject(type.decode(bytes), { longs: String, bytes: String, defaults: false, arrays: true });
}

/**
 * Walks both decodings together and fails (jest expect) on any difference other than a timestamp moved by `offset`.
 * Returns how many non-zero timestamps moved.
 */
export function compareShifted(original: unknown, shifted: unknown, offset: bigint, path = '$'): number {
  if (Array.isArray(original)) {
    expect(Array.isArray(shifted)).toBe(true);
    expect({ path, length: (shifted as unknown[]).length }).toEqual({ path, length: original.length });
    return original.reduce<number>((moved, item, i) => moved + compareShifted(item, (shifted as unknown[])[i], offset, `${path}[${i}]`), 0);
  }
  if (typeof original === 'object' && original !== null) {
    const a = original as Record<string, unknown>;
    const b = shifted as Record<string, unknown>;
    expect({ path, keys: Object.keys(b).sort() }).toEqual({ path, keys: Object.keys(a).sort() });
    let moved = 0;
    for (const key of Object.keys(a)) {
      if (TIME_KEYS.has(key)) {
        const before = BigInt(a[key] as string);
        const after = BigInt(b[key] as string);
        const expected = before === 0n ? 0n : before + offset;
        expect({ path: `${path}.${key}`, value: after }).toEqual({ path: `${path}.${key}`, value: expected });
        if (before !== 0n) moved += 1;
      } else {
        moved += compareShifted(a[key], b[key], offset, `${path}.${key}`);
      }
    }
    return moved;
  }
  expect({ path, value: shifted }).toEqual({ path, value: original });
  return 0;
}
