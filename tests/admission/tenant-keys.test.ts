// Whatever a client puts in the tenant header, the only two outcomes are a refusal or an object key under
// `<tenant>/<signal>/` that stays inside the blob store's root: checked for hostile strings and for arbitrary ones.
import path from 'node:path';
import fc from 'fast-check';
import { BearerAuth } from '../../src/admission/auth.js';
import { CallerPolicy } from '../../src/admission/caller.js';
import { objectKey } from '../../src/archiver/object-key.js';
import { InvalidArgumentError } from '../../src/errors.js';
import { SIGNALS, type Signal } from '../../src/model.js';
import { validateBlobKey } from '../../src/storage/blob-key.js';

const policy = new CallerPolicy(new BearerAuth([]), { tenantHeader: 'x-scope-orgid', defaultTenant: 'default' });
const ROOT = '/var/lib/otlp-capture/objects';

/** The key an accepted request of `tenant` would be archived under, or 'refused'. */
function keyFor(header: string, signal: Signal): string {
  let tenant: string;
  try {
    tenant = policy.authorize({ authorization: undefined, tenant: header }, 'ingest').tenant;
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidArgumentError);
    return 'refused';
  }
  return objectKey({ tenant, signal, createdAtMs: Date.UTC(2026, 0, 2, 3), id: '01KF0000000000000000000000' });
}

function expectContained(header: string, signal: Signal): void {
  const key = keyFor(header, signal);
  if (key === 'refused') return;
  const tenant = header === '' ? 'default' : header;
  expect(key.startsWith(`${tenant}/${signal}/`)).toBe(true);
  expect(key.split('/')).toHaveLength(7);
  validateBlobKey(key);
  const resolved = path.resolve(ROOT, key);
  expect(resolved.startsWith(`${ROOT}/${tenant}/${signal}/`)).toBe(true);
}

test.each([
  '../', '..', '../../etc/passwd', '%2e%2e', '%2e%2e%2f', '..%2f', '.%2e', 'a/../../b', 'a\\..\\b', '/etc', 'C:\\x',
  'a\u0000b', '\u0000', 'a\nb', 'x'.repeat(64), 'x'.repeat(100_000), '.', '.git', 'tenant/', ' team', 'team ', 'аcme',
])('hostile tenant %j is refused', (header) => {
  for (const signal of SIGNALS) expect(keyFor(header, signal)).toBe('refused');
});

test('valid tenants (and the default) give keys under <tenant>/<signal>/', () => {
  for (const header of ['', 'team-a', 'Team.Prod_1', 'x'.repeat(63), 'a.b']) {
    for (const signal of SIGNALS) expectContained(header, signal);
  }
});

test('property: any string is refused or lands under <tenant>/<signal>/ inside the root', () => {
  const interesting = fc.constantFrom('.', '/', '\\', '%', '2', 'e', 'f', '\u0000', 'a', '-', '_', 'Z', '0', '..', '%2e');
  const arbitrary = fc.oneof(
    fc.string({ maxLength: 80 }),
    fc.string({ unit: 'grapheme', maxLength: 20 }),
    fc.array(interesting, { maxLength: 30 }).map((parts) => parts.join('')),
  );
  fc.assert(
    fc.property(arbitrary, fc.constantFrom(...SIGNALS), (header, signal) => {
      expectContained(header, signal);
    }),
    { numRuns: 5000 },
  );
});
