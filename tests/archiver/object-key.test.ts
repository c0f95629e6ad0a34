import { describe, expect, it } from '@jest/globals';
import { newObjectId, objectKey } from '../../src/archiver/object-key.js';
import { validateBlobKey } from '../../src/storage/blob-key.js';
import { isUlid } from '../../src/util/ulid.js';
import { InvalidArgumentError } from '../../src/errors.js';

describe('objectKey', () => {
  it('is tenant/signal/YYYY/MM/DD/HH/id.otlpc in UTC, zero-padded', () => {
    expect(objectKey({ tenant: 'acme', signal: 'metrics', createdAtMs: Date.UTC(2024, 0, 2, 3, 59, 59, 999), id: 'ID1' })).toBe(
      'acme/metrics/2024/01/02/03/ID1.otlpc',
    );
    expect(objectKey({ tenant: 't', signal: 'logs', createdAtMs: Date.UTC(2025, 11, 31, 23, 0), id: 'X' })).toBe(
      't/logs/2025/12/31/23/X.otlpc',
    );
  });

  it('makes keys every blob store accepts, sorted by creation time', () => {
    const first = objectKey({ tenant: 'acme', signal: 'traces', createdAtMs: 1_700_000_000_000, id: newObjectId(1_700_000_000_000) });
    const second = objectKey({ tenant: 'acme', signal: 'traces', createdAtMs: 1_700_000_000_000, id: newObjectId(1_700_000_000_000) });
    expect(() => validateBlobKey(first)).not.toThrow();
    expect(first < second).toBe(true);
    expect(isUlid(newObjectId())).toBe(true);
  });

  it('refuses tenants that would change the path', () => {
    for (const tenant of ['', '.', '..', 'a/b', 'a\\b', 'a\0b', 'new\nline']) {
      expect(() => objectKey({ tenant, signal: 'traces', createdAtMs: 0, id: 'x' })).toThrow(InvalidArgumentError);
    }
    expect(() => objectKey({ tenant: 'ok', signal: 'traces', createdAtMs: Number.NaN, id: 'x' })).toThrow(InvalidArgumentError);
  });
});
