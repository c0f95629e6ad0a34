import { describe, expect, test } from '@jest/globals';
import type { ObjectMeta } from '../../src/model.js';
import { compressedKey, compressionMark } from '../../src/retention/compressed-key.js';
import { actionApplies, firstMatchingPolicy, rowMatches } from '../../src/retention/policy-match.js';
import { retentionSchema, type RetentionPolicy } from '../../src/retention/retention-config.js';

const DAY = 86_400_000;
const AS_OF = Date.UTC(2026, 5, 1);

function object(overrides: Partial<ObjectMeta> = {}): ObjectMeta {
  const sealedAtMs = overrides.sealedAtMs ?? AS_OF - 10 * DAY;
  return {
    key: 'acme/traces/2026/05/22/00/01J0000000000000000000000.otlpc',
    tenant: 'acme',
    signal: 'traces',
    createdAtMs: sealedAtMs - 60_000,
    sealedAtMs,
    requestCount: 3,
    rawBytes: 3000,
    storedBytes: 1000,
    codec: 'gzip',
    startNs: BigInt(sealedAtMs - 120_000) * 1_000_000n,
    endNs: BigInt(sealedAtMs - 60_000) * 1_000_000n,
    ...overrides,
  };
}

function policies(list: unknown[]): RetentionPolicy[] {
  return retentionSchema.parse({ policies: list }).policies;
}

const never = async (): Promise<string[]> => {
  throw new Error('services must not be read');
};

describe('policy matching', () => {
  test('olderThan is judged by the seal time; data stamped after it (a clock ahead, garbage) does not delay it', () => {
    const [p] = policies([{ name: 'p', match: { olderThan: '7d' }, action: { type: 'delete' } }]);
    expect(rowMatches(p!, object(), AS_OF)).toBe(true);
    expect(rowMatches(p!, object({ sealedAtMs: AS_OF - 6 * DAY }), AS_OF)).toBe(false);
    // Sealed long ago, but carries data stamped after the cut-off (a clock-skewed client) or at the end of fixed64.
    expect(rowMatches(p!, object({ endNs: BigInt(AS_OF) * 1_000_000n }), AS_OF)).toBe(true);
    expect(rowMatches(p!, object({ endNs: 2n ** 63n - 1n }), AS_OF)).toBe(true);
    // Exactly at the cut-off is not older.
    expect(rowMatches(p!, object({ sealedAtMs: AS_OF - 7 * DAY, endNs: 0n }), AS_OF)).toBe(false);
  });

  test('signal, tenant and minSize must all hold', () => {
    const [p] = policies([{ name: 'p', match: { signal: 'logs', tenant: 'acme', minSize: 500, olderThan: '1d' }, action: { type: 'delete' } }]);
    expect(rowMatches(p!, object({ signal: 'logs' }), AS_OF)).toBe(true);
    expect(rowMatches(p!, object({ signal: 'traces' }), AS_OF)).toBe(false);
    expect(rowMatches(p!, object({ signal: 'logs', tenant: 'other' }), AS_OF)).toBe(false);
    expect(rowMatches(p!, object({ signal: 'logs', storedBytes: 499 }), AS_OF)).toBe(false);
  });

  test('first matching policy wins, in listed order', async () => {
    const list = policies([
      { name: 'logs-gone', match: { signal: 'logs', olderThan: '1d' }, action: { type: 'delete' } },
      { name: 'all-archive', match: { olderThan: '1d' }, action: { type: 'archive', dir: '/cold' } },
      { name: 'all-delete', match: { olderThan: '1d' }, action: { type: 'delete' } },
    ]);
    expect((await firstMatchingPolicy(list, object({ signal: 'logs' }), AS_OF, never))?.name).toBe('logs-gone');
    expect((await firstMatchingPolicy(list, object(), AS_OF, never))?.name).toBe('all-archive');
    // Already archived: the archive policy does not apply, so the next one gets it.
    expect((await firstMatchingPolicy(list, object({ key: '_archive/fs/cold/acme/traces/x.otlpc' }), AS_OF, never))?.name).toBe('all-delete');
    expect(await firstMatchingPolicy(list, object({ sealedAtMs: AS_OF }), AS_OF, never)).toBeNull();
  });

  test('a service rule matches when any request of the object has the service; services are read once, only when needed', async () => {
    const list = policies([
      { name: 'checkout', match: { service: 'checkout', olderThan: '1d' }, action: { type: 'delete' } },
      { name: 'cart', match: { service: 'cart', olderThan: '1d' }, action: { type: 'delete' } },
    ]);
    let reads = 0;
    const services = async (): Promise<string[]> => {
      reads += 1;
      return ['cart', 'frontend'];
    };
    expect((await firstMatchingPolicy(list, object(), AS_OF, services))?.name).toBe('cart');
    expect(reads).toBe(1);
    expect(await firstMatchingPolicy(list, object({ sealedAtMs: AS_OF }), AS_OF, services)).toBeNull();
    expect(reads).toBe(1);
  });

  test('compress applies only where it makes the object stronger, never to archived objects', () => {
    const [gzip9] = policies([{ name: 'g', match: { olderThan: '1d' }, action: { type: 'compress', codec: 'gzip', level: 9 } }]);
    const [brotli11] = policies([{ name: 'b', match: { olderThan: '1d' }, action: { type: 'compress', codec: 'brotli', level: 11 } }]);
    const plain = object();
    expect(actionApplies(gzip9!, plain)).toBe(true);
    const g9 = object({ key: compressedKey(plain.key, { codec: 'gzip', level: 9 }) });
    expect(actionApplies(gzip9!, g9)).toBe(false);
    expect(actionApplies(brotli11!, g9)).toBe(true);
    expect(actionApplies(gzip9!, object({ codec: 'brotli' }))).toBe(false);
    const b11 = object({ key: compressedKey(g9.key, { codec: 'brotli', level: 11 }), codec: 'brotli' });
    expect(actionApplies(brotli11!, b11)).toBe(false);
    expect(actionApplies(gzip9!, object({ key: '_archive/fs/cold/acme/x.otlpc' }))).toBe(false);
  });

  test('compressed keys record codec and level, replace an earlier mark, and stay beside the original', () => {
    const key = 'acme/traces/2026/05/22/00/01J0.otlpc';
    const g9 = compressedKey(key, { codec: 'gzip', level: 9 });
    expect(g9).toBe('acme/traces/2026/05/22/00/01J0.gzip-9.otlpc');
    expect(compressionMark(g9)).toEqual({ codec: 'gzip', level: 9 });
    expect(compressedKey(g9, { codec: 'brotli', level: 11 })).toBe('acme/traces/2026/05/22/00/01J0.brotli-11.otlpc');
    const z19 = compressedKey(g9, { codec: 'zstd', level: 19 });
    expect(z19).toBe('acme/traces/2026/05/22/00/01J0.zstd-19.otlpc');
    expect(compressionMark(z19)).toEqual({ codec: 'zstd', level: 19 });
    expect(compressionMark(key)).toBeNull();
  });
});
