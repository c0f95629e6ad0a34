// Tenant names come from an untrusted header and end up in object keys and paths: only a conservative alphabet
// passes, everything else is refused with a message that says what is allowed (and does not echo unbounded input).
import { isValidTenant, resolveTenant } from '../../src/admission/tenant.js';
import { InvalidArgumentError } from '../../src/errors.js';

test.each(['default', 'acme', 'a', '0', 'team-1', 'team_1', 'Team.Prod', 'a.b.c', 'x'.repeat(63), 'A-Z_0.9'])(
  '%j is a valid tenant',
  (value) => {
    expect(isValidTenant(value)).toBe(true);
    expect(resolveTenant(value, 'default', 'x-scope-orgid')).toBe(value);
  },
);

test.each([
  ['parent directory', '../'],
  ['dot-dot alone', '..'],
  ['dot-dot inside', 'a..b'],
  ['dot-dot at the end', 'tenant..'],
  ['a path', 'a/b'],
  ['a Windows path', 'a\\b'],
  ['absolute path', '/etc'],
  ['percent-encoded dot-dot', '%2e%2e'],
  ['percent-encoded slash', 'a%2fb'],
  ['NUL', 'a\u0000b'],
  ['trailing NUL', 'tenant\u0000'],
  ['newline', 'a\nb'],
  ['trailing newline', 'tenant\n'],
  ['space', 'a b'],
  ['64 characters', 'x'.repeat(64)],
  ['starts with a dot', '.hidden'],
  ['starts with a dash', '-rf'],
  ['starts with an underscore', '_x'],
  ['unicode letters', 'mandant-ü'],
  ['unicode look-alike', 'аcme'], // Cyrillic а
  ['emoji', 'team🚀'],
  ['colon', 'a:b'],
  ['wildcard', 'a*'],
])('%s (%j) is refused', (_, value) => {
  expect(isValidTenant(value)).toBe(false);
  let error: unknown;
  try {
    resolveTenant(value, 'default', 'x-scope-orgid');
  } catch (caught) {
    error = caught;
  }
  expect(error).toBeInstanceOf(InvalidArgumentError);
  const message = (error as Error).message;
  expect(message).toContain('invalid tenant in header x-scope-orgid');
  expect(message).toContain('1-63 characters of A-Z a-z 0-9 . _ -');
  // The value is quoted as JSON, so control characters show as escapes rather than breaking the log line.
  expect(message).toContain(JSON.stringify(value));
  expect(message).not.toContain('\u0000');
});

test('no header, or an empty one, means the default tenant', () => {
  expect(resolveTenant(undefined, 'default', 'x-scope-orgid')).toBe('default');
  expect(resolveTenant('', 'acme', 'x-scope-orgid')).toBe('acme');
});

test('a huge hostile value is quoted only in part', () => {
  const value = `../${'A'.repeat(10_000)}`;
  let message = '';
  try {
    resolveTenant(value, 'default', 'x-tenant');
  } catch (error) {
    message = (error as Error).message;
  }
  expect(message).toContain('invalid tenant in header x-tenant');
  expect(message.length).toBeLessThan(300);
});
