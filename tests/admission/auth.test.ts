// Bearer tokens and tenant binding: who may write and read which tenant, and that no message ever carries a token.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BearerAuth, loadBearerTokens } from '../../src/admission/auth.js';
import { CallerPolicy } from '../../src/admission/caller.js';
import { loadConfig } from '../../src/config/load.js';
import { ConfigError, InvalidArgumentError, PermissionDeniedError, UnauthenticatedError } from '../../src/errors.js';

const SECRET_A = 'tok-A.2f9c~secret+/=';
const SECRET_ADMIN = 'admin-7d1e0b';

function thrown(run: () => unknown): Error {
  try {
    run();
  } catch (error) {
    return error as Error;
  }
  throw new Error('did not throw');
}

describe('BearerAuth', () => {
  const auth = new BearerAuth([{ token: SECRET_A, tenant: 'team-a' }, { token: SECRET_ADMIN }]);

  test('with no tokens, authentication is off: anything (or nothing) is an unbound caller', () => {
    const off = new BearerAuth([]);
    expect(off.enabled).toBe(false);
    expect(off.authenticate(undefined)).toEqual({});
    expect(off.authenticate('Bearer whatever')).toEqual({});
  });

  test('the right token gives its principal; the scheme is case-insensitive, as RFC 9110 says', () => {
    expect(auth.enabled).toBe(true);
    expect(auth.authenticate(`Bearer ${SECRET_A}`)).toEqual({ tenant: 'team-a' });
    expect(auth.authenticate(`bearer ${SECRET_A}`)).toEqual({ tenant: 'team-a' });
    expect(auth.authenticate(`BEARER  ${SECRET_ADMIN} `)).toEqual({});
  });

  test.each([
    ['missing', undefined, /missing bearer token/],
    ['empty', '', /missing bearer token/],
    ['another scheme', `Basic ${SECRET_A}`, /not of the form "Bearer <token>"/],
    ['no token', 'Bearer ', /not of the form/],
    ['token without scheme', SECRET_A, /not of the form/],
    ['wrong token', 'Bearer tok-A.2f9c~secret+/', /invalid bearer token/],
    ['a prefix of the right one', `Bearer ${SECRET_A.slice(0, 5)}`, /invalid bearer token/],
    ['right token plus more', `Bearer ${SECRET_A}x`, /invalid bearer token/],
  ])('%s → UnauthenticatedError, and the message does not contain the token', (_name, header, message) => {
    const error = thrown(() => auth.authenticate(header));
    expect(error).toBeInstanceOf(UnauthenticatedError);
    expect(error.message).toMatch(message);
    expect(error.message).not.toContain(SECRET_A);
    expect(error.message).not.toContain(SECRET_A.slice(0, 5));
  });

  test('the same token twice with different tenants is a configuration error (which tenant would it be?)', () => {
    const error = thrown(() => new BearerAuth([{ token: 'x1', tenant: 'a' }, { token: 'x1', tenant: 'b' }]));
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).not.toContain('x1');
    expect(new BearerAuth([{ token: 'x1', tenant: 'a' }, { token: 'x1', tenant: 'a' }]).authenticate('Bearer x1')).toEqual({ tenant: 'a' });
  });
});

describe('loadBearerTokens', () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'auth-tokens-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('reads token files without surrounding whitespace (a Secret usually ends in a newline)', () => {
    const file = path.join(dir, 'token');
    fs.writeFileSync(file, `  ${SECRET_A}\n`);
    expect(loadBearerTokens([{ tokenFile: file, tenant: 'team-a' }, { token: SECRET_ADMIN }])).toEqual([
      { token: SECRET_A, tenant: 'team-a' },
      { token: SECRET_ADMIN },
    ]);
  });

  test('an unreadable or empty file, or a token with spaces, is a ConfigError that shows no token', () => {
    const missing = thrown(() => loadBearerTokens([{ tokenFile: path.join(dir, 'nope') }]));
    expect(missing).toBeInstanceOf(ConfigError);
    expect(missing.message).toMatch(/cannot read auth\.bearerTokens\[0\]\.tokenFile .*nope: ENOENT/);
    const empty = path.join(dir, 'empty');
    fs.writeFileSync(empty, '\n');
    expect(thrown(() => loadBearerTokens([{ token: 'ok' }, { tokenFile: empty }])).message).toMatch(/auth\.bearerTokens\[1\]\.tokenFile .* is empty/);
    const spaced = thrown(() => loadBearerTokens([{ token: 'two words-secret' }]));
    expect(spaced.message).toMatch(/printable ASCII without spaces/);
    expect(spaced.message).not.toContain('secret');
  });
});

describe('CallerPolicy', () => {
  const policy = new CallerPolicy(new BearerAuth([{ token: SECRET_A, tenant: 'team-a' }, { token: SECRET_ADMIN }]), {
    tenantHeader: 'x-scope-orgid',
    defaultTenant: 'default',
  });
  const bound = `Bearer ${SECRET_A}`;
  const admin = `Bearer ${SECRET_ADMIN}`;

  test('writes: a bound token writes to its tenant, with or without the header', () => {
    expect(policy.writeTenant({ authorization: bound, tenant: undefined })).toBe('team-a');
    expect(policy.writeTenant({ authorization: bound, tenant: '' })).toBe('team-a');
    expect(policy.writeTenant({ authorization: bound, tenant: 'team-a' })).toBe('team-a');
  });

  test('writes: a bound token naming another tenant is PermissionDenied', () => {
    const error = thrown(() => policy.writeTenant({ authorization: bound, tenant: 'team-b' }));
    expect(error).toBeInstanceOf(PermissionDeniedError);
    expect(error.message).toBe('this token is bound to tenant "team-a" and may not write to tenant "team-b"');
  });

  test('writes: an unbound token names any tenant with the header, or gets the default', () => {
    expect(policy.writeTenant({ authorization: admin, tenant: 'team-b' })).toBe('team-b');
    expect(policy.writeTenant({ authorization: admin, tenant: undefined })).toBe('default');
  });

  test('authentication comes before the tenant: no token and a bad tenant is Unauthenticated', () => {
    expect(thrown(() => policy.writeTenant({ authorization: undefined, tenant: '../x' }))).toBeInstanceOf(UnauthenticatedError);
    expect(thrown(() => policy.readTenant({ authorization: 'Bearer nope', tenant: 'team-a' }))).toBeInstanceOf(UnauthenticatedError);
  });

  test.each(['../etc', '%2e%2e', 'a\u0000b', 'x'.repeat(64), 'a/b', '..', '.hidden', 'a..b'])(
    'a malformed tenant %j is InvalidArgument, bound token or not',
    (tenant) => {
      expect(thrown(() => policy.writeTenant({ authorization: admin, tenant }))).toBeInstanceOf(InvalidArgumentError);
      expect(thrown(() => policy.writeTenant({ authorization: bound, tenant }))).toBeInstanceOf(InvalidArgumentError);
      expect(thrown(() => policy.readTenant({ authorization: admin, tenant: undefined }, tenant))).toBeInstanceOf(InvalidArgumentError);
    },
  );

  test('reads: a bound token only ever sees its tenant; naming another one (header or field) is PermissionDenied', () => {
    expect(policy.readTenant({ authorization: bound, tenant: undefined })).toBe('team-a');
    expect(policy.readTenant({ authorization: bound, tenant: 'team-a' }, 'team-a')).toBe('team-a');
    for (const [header, field] of [['team-b', undefined], [undefined, 'team-b'], ['team-a', 'team-b']] as const) {
      const error = thrown(() => policy.readTenant({ authorization: bound, tenant: header }, field));
      expect(error).toBeInstanceOf(PermissionDeniedError);
      expect(error.message).toMatch(/may not read tenant "team-b"/);
    }
  });

  test('reads: an unbound caller sees every tenant, or the one the header or field names; they must agree', () => {
    expect(policy.readTenant({ authorization: admin, tenant: undefined })).toBeUndefined();
    expect(policy.readTenant({ authorization: admin, tenant: 'team-b' })).toBe('team-b');
    expect(policy.readTenant({ authorization: admin, tenant: undefined }, 'team-c')).toBe('team-c');
    expect(thrown(() => policy.readTenant({ authorization: admin, tenant: 'team-b' }, 'team-c'))).toBeInstanceOf(InvalidArgumentError);
  });

  test('with auth off every caller is unbound', () => {
    const open = new CallerPolicy(new BearerAuth([]), { tenantHeader: 'x-scope-orgid', defaultTenant: 'default' });
    expect(open.authEnabled).toBe(false);
    expect(open.writeTenant({ authorization: undefined, tenant: undefined })).toBe('default');
    expect(open.writeTenant({ authorization: 'Bearer anything', tenant: 'team-b' })).toBe('team-b');
    expect(open.readTenant({ authorization: undefined, tenant: undefined })).toBeUndefined();
  });
});

describe('auth configuration', () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'auth-config-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  const load = (env: NodeJS.ProcessEnv, yaml?: string) => {
    const file = path.join(dir, 'config.yaml');
    if (yaml !== undefined) fs.writeFileSync(file, yaml);
    return loadConfig({ env, cwd: dir, ...(yaml !== undefined ? { file } : {}) });
  };

  function configError(env: NodeJS.ProcessEnv, yaml?: string): string {
    try {
      load(env, yaml);
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      return (error as Error).message;
    }
    throw new Error('configuration was accepted');
  }

  test('off by default', () => {
    expect(load({}).auth.bearerTokens).toEqual([]);
  });

  test('YAML tokens (inline and files, relative to the working directory) plus OTLP_CAPTURE_BEARER_TOKEN, unbound', () => {
    const config = load(
      { OTLP_CAPTURE_BEARER_TOKEN: SECRET_ADMIN },
      `auth:\n  bearerTokens:\n    - token: "${SECRET_A}"\n      tenant: team-a\n    - { tokenFile: secrets/b, tenant: team-b }\n`,
    );
    expect(config.auth.bearerTokens).toEqual([
      { token: SECRET_A, tenant: 'team-a' },
      { tokenFile: path.join(dir, 'secrets/b'), tenant: 'team-b' },
      { token: SECRET_ADMIN },
    ]);
    expect(load({ OTLP_CAPTURE_BEARER_TOKEN: SECRET_ADMIN }).auth.bearerTokens).toEqual([{ token: SECRET_ADMIN }]);
  });

  test('bad entries are refused without quoting any token', () => {
    const both = configError({}, `auth:\n  bearerTokens:\n    - { token: "${SECRET_A}", tokenFile: /x }\n`);
    expect(both).toMatch(/auth\.bearerTokens\.0: set exactly one of token or tokenFile/);
    const badTenant = configError({}, `auth:\n  bearerTokens:\n    - { token: "${SECRET_A}", tenant: "../b" }\n`);
    expect(badTenant).toMatch(/auth\.bearerTokens\.0\.tenant: expected 1-63 characters/);
    const unknownKey = configError({}, `auth:\n  bearerTokens:\n    - { token: "${SECRET_A}", tennant: a }\n`);
    expect(unknownKey).toMatch(/auth\.bearerTokens\.0: unknown key\(s\) "tennant"/);
    const notAList = configError({ OTLP_CAPTURE_BEARER_TOKEN: SECRET_ADMIN }, `auth:\n  bearerTokens: "${SECRET_A}"\n`);
    expect(notAList).toMatch(/auth\.bearerTokens: .*expected array/i);
    const notAMapping = configError({ OTLP_CAPTURE_BEARER_TOKEN: SECRET_ADMIN }, `auth: "${SECRET_A}"\n`);
    expect(notAMapping).toMatch(/auth: .*expected object/i);
    for (const message of [both, badTenant, unknownKey, notAList, notAMapping]) {
      expect(message).not.toContain(SECRET_A);
      expect(message).not.toContain(SECRET_ADMIN);
    }
  });
});
