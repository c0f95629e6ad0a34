import { describe, expect, it } from '@jest/globals';
import { validateBlobKey, validateBlobPrefix } from '../../src/storage/blob-key.js';
import { InvalidArgumentError } from '../../src/errors.js';
import { HOSTILE_KEYS } from './blob-store-contract.js';

describe('blob keys', () => {
  it('accepts relative slash-separated keys, including dots inside names and unicode', () => {
    for (const key of ['a', 'a/b/c.otlpc', 'tenant-1/traces/2024/01/02/03/01HX.otlpc', '.hidden/x', 'a/..b', 'ünï/cødé']) {
      expect(() => validateBlobKey(key)).not.toThrow();
    }
  });

  it('rejects hostile keys and overlong ones', () => {
    for (const key of [...HOSTILE_KEYS, 'x'.repeat(1025)]) expect(() => validateBlobKey(key)).toThrow(InvalidArgumentError);
  });

  it('accepts any leading part of a valid key as a list prefix, and nothing that escapes', () => {
    for (const prefix of ['', 'a', 'a/', 'a/b', 'a/b/', 'acme/traces/2024/0', 'a/.']) expect(() => validateBlobPrefix(prefix)).not.toThrow();
    for (const prefix of ['/a', '../', 'a/../b', 'a//b', 'a\\b', 'a\0', 'a\n', 'a/\u001b[31m', '\udfff']) {
      expect(() => validateBlobPrefix(prefix)).toThrow(InvalidArgumentError);
    }
  });
});
