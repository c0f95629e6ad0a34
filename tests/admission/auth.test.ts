// Bearer tokens, their scopes and tenant binding: who may ingest, read and replay which tenant, and that no message
// ever carries a token.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BearerAuth, loadBearerTokens, type Principal } from '../../src/admission/auth.js';
import { CallerPolicy, type CallerCredentials } from '../../src/admission/caller.js';
import { missingScopesMessage, type Scope } from '../../src/admission/scopes.js';
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

const plain = (principal: Principal): { tenant?: string; scopes: Scope[] } => ({
  ...(principal.tenant === undefined ? {} : { tenant: principal.tenant }),
  scopes: [...principal.scopes].sort(),
});

describe('BearerAuth', () => {
  const auth = new BearerAuth([{ token: SECRET_A, tenant: 'team-a' }, { token: SECRET_ADMIN, scopes: ['read', 'replay'] }]);

  test('with no tokens, authentication is off: anything (or nothing) is an unbound caller with every scope', () => {
    const off = new BearerAuth([]);
    expect(off.enabled).toBe(false);
    expect(plain(off.authenticate(undefined))).toEqual({ scopes: ['ingest', 'metrics', 'read', 'replay'] });
    expect(plain(off.authenticate('Bearer whatever'))).toEqual({ scopes: ['ingest', 'metrics', 'read', 'replay'] });
  });

  test('the right token gives its principal (ingest only unless it says more); the scheme is case-insensitive, as RFC 9110 says', () => {
    expect(auth.enabled).toBe(true);
    expect(plain(auth.authenticate(`Bearer ${SECRET_A}`))).toEqual({ tenant: 'team-a', scopes: ['ingest'] });
    expect(plain(auth.authenticate(`bearer ${SECRET_A}`))).toEqual({ tenant: 'team-a', scopes: ['ingest'] });
    expect(plain(auth.authenticate(`BEARER  ${SECRET_ADMIN} `))).toEqual({ scopes: ['read', 'replay'] });
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

  test('the same token twice with different tenants or scopes is a configuration error (which would it be?)', () => {
    const error = thrown(() => new BearerAuth([{ token: 'x1', tenant: 'a' }, { token: 'x1', tenant: 'b' }]));
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).not.toContain('x1');
    // The ingest token reused as the read token: refused, so the two powers stay apart.
    const reused = thrown(() => new BearerAuth([{ token: 'x1', scopes: ['ingest'] }, { token: 'x1', scopes: ['read', 'replay'] }]));
    expect(reused).toBeInstanceOf(ConfigError);
    expect(reused.message).toBe('auth.bearerTokens[1]: the same token is configured twice with different tenants or scopes');
    expect(plain(new BearerAuth([{ token: 'x1', tenant: 'a' }, { token: 'x1', tenant: 'a' }]).authenticate('Bearer x1'))).toEqual({ tenant: 'a', scopes: ['ingest'] });
  });
});

describe('loadBearerTokens', () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'auth-tokens-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('reads token files without surrounding whitespace (a Secret usually ends in a newline)', () => {
    const file = path.join(dir, 'token');
    fs.writeFileSync(file, `  ${SECRET_A}\n`);
    expect(loadBearerTokens([{ tokenFile: file, tenant: 'team-a' }, { token: SECRET_ADMIN, scopes: ['replay', 'read', 'read'] }])).toEqual([
      { token: SECRET_A, tenant: 'team-a', scopes: ['ingest'] },
      { token: SECRET_ADMIN, scopes: ['read', 'replay'] },
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

describe('CallerPolicy.authorize', () => {
  const policy = new CallerPolicy(
    new BearerAuth([
      { token: SECRET_A, tenant: 'team-a', scopes: ['ingest', 'read'] },
      { token: SECRET_ADMIN, scopes: ['ingest', 'read', 'replay'] },
      { token: 'ingest-only', scopes: ['ingest'] },
      { token: 'read-only', scopes: ['read'] },
    ]),
    { tenantHeader: 'x-scope-orgid', defaultTenant: 'default' },
  );
  const bound = `Bearer ${SECRET_A}`;
  const admin = `Bearer ${SECRET_ADMIN}`;
  const write = (credentials: CallerCredentials): string => policy.authorize(credentials, 'ingest').tenant;
  const read = (credentials: CallerCredentials, asked?: string): string | undefined =>
    policy.readTenant(policy.authorize(credentials, 'read'), asked);

  test('writes: a bound token writes to its tenant, with or without the header', () => {
    expect(write({ authorization: bound, tenant: undefined })).toBe('team-a');
    expect(write({ authorization: bound, tenant: '' })).toBe('team-a');
    expect(write({ authorization: bound, tenant: 'team-a' })).toBe('team-a');
  });

  test('writes: a bound token naming another tenant is PermissionDenied', () => {
    const error = thrown(() => write({ authorization: bound, tenant: 'team-b' }));
    expect(error).toBeInstanceOf(PermissionDeniedError);
    expect(error.message).toBe('this token is bound to tenant "team-a" and may not write to tenant "team-b"');
  });

  test('writes: an unbound token names any tenant with the header, or gets the default', () => {
    expect(write({ authorization: admin, tenant: 'team-b' })).toBe('team-b');
    expect(write({ authorization: admin, tenant: undefined })).toBe('default');
  });

  test('authentication comes before the tenant: no token and a bad tenant is Unauthenticated', () => {
    expect(thrown(() => write({ authorization: undefined, tenant: '../x' }))).toBeInstanceOf(UnauthenticatedError);
    expect(thrown(() => read({ authorization: 'Bearer nope', tenant: 'team-a' }))).toBeInstanceOf(UnauthenticatedError);
  });

  test.each(['../etc', '%2e%2e', 'a\u0000b', 'x'.repeat(64), 'a/b', '..', '.hidden', 'a..b'])(
    'a malformed tenant %j is InvalidArgument, bound token or not',
    (tenant) => {
      expect(thrown(() => write({ authorization: admin, tenant }))).toBeInstanceOf(InvalidArgumentError);
      expect(thrown(() => write({ authorization: bound, tenant }))).toBeInstanceOf(InvalidArgumentError);
      expect(thrown(() => read({ authorization: admin, tenant: undefined }, tenant))).toBeInstanceOf(InvalidArgumentError);
    },
  );

  test('reads: a bound token only ever sees its tenant; naming another one (header or field) is PermissionDenied', () => {
    expect(read({ authorization: bound, tenant: undefined })).toBe('team-a');
    expect(read({ authorization: bound, tenant: 'team-a' }, 'team-a')).toBe('team-a');
    for (const [header, field] of [['team-b', undefined], [undefined, 'team-b'], ['team-a', 'team-b']] as const) {
      const error = thrown(() => read({ authorization: bound, tenant: header }, field));
      expect(error).toBeInstanceOf(PermissionDeniedError);
      expect(error.message).toMatch(/may not read tenant "team-b"/);
    }
  });

  test('reads: an unbound caller sees every tenant, or the one the header or field names; they must agree', () => {
    expect(read({ authorization: admin, tenant: undefined })).toBeUndefined();
    expect(read({ authorization: admin, tenant: 'team-b' })).toBe('team-b');
    expect(read({ authorization: admin, tenant: undefined }, 'team-c')).toBe('team-c');
    expect(thrown(() => read({ authorization: admin, tenant: 'team-b' }, 'team-c'))).toBeInstanceOf(InvalidArgumentError);
  });

  test.each([
    ['ingest-only', 'read', 'this token lacks the "read" scope'],
    ['ingest-only', 'replay', 'this token lacks the "read" and "replay" scopes'],
    ['read-only', 'ingest', 'this token lacks the "ingest" scope'],
    ['read-only', 'replay', 'this token lacks the "replay" scope'],
    [SECRET_A, 'replay', 'this token lacks the "replay" scope'],
  ] as const)('scopes: %s may not %s: PermissionDenied naming what is missing', (token, action, message) => {
    const error = thrown(() => policy.authorize({ authorization: `Bearer ${token}`, tenant: undefined }, action));
    expect(error).toBeInstanceOf(PermissionDeniedError);
    expect(error.message).toBe(message);
    expect(error.message).not.toContain(token);
  });

  test('scopes are checked before the tenant: a token without the scope learns nothing about tenants', () => {
    const error = thrown(() => policy.authorize({ authorization: 'Bearer read-only', tenant: '../etc' }, 'ingest'));
    expect(error.message).toBe('this token lacks the "ingest" scope');
  });

  test('each action with the scopes it needs is granted, with the tenant it may use', () => {
    expect(policy.authorize({ authorization: 'Bearer read-only', tenant: 'team-c' }, 'read')).toEqual({ action: 'read', tenant: 'team-c', boundTenant: undefined });
    expect(policy.authorize({ authorization: admin, tenant: undefined }, 'replay')).toEqual({ action: 'replay', tenant: undefined, boundTenant: undefined });
    expect(policy.authorize({ authorization: bound, tenant: undefined }, 'read')).toEqual({ action: 'read', tenant: 'team-a', boundTenant: 'team-a' });
    expect(policy.authorize({ authorization: 'Bearer ingest-only', tenant: undefined }, 'ingest')).toEqual({ action: 'ingest', tenant: 'default' });
  });

  test('with auth off every caller is unbound, with every scope', () => {
    const open = new CallerPolicy(new BearerAuth([]), { tenantHeader: 'x-scope-orgid', defaultTenant: 'default' });
    expect(open.authEnabled).toBe(false);
    expect(open.authorize({ authorization: undefined, tenant: undefined }, 'ingest').tenant).toBe('default');
    expect(open.authorize({ authorization: 'Bearer anything', tenant: 'team-b' }, 'ingest').tenant).toBe('team-b');
    expect(open.authorize({ authorization: undefined, tenant: undefined }, 'replay').tenant).toBeUndefined();
  });

  test('the message lists several missing scopes readably', () => {
    expect(missingScopesMessage(['read'])).toBe('this token lacks the "read" scope');
    expect(missingScopesMessage(['ingest', 'read', 'replay'])).toBe('this token lacks the "ingest", "read" and "replay" scopes');
  });
});

describe('CallerPolicy and metrics tokens', () => {
  const options = { tenantHeader: 'x-scope-orgid', defaultTenant: 'default' };

  test('tokens that only grant metrics leave the data path open: Collectors without a token still ingest', () => {
    const policy = new CallerPolicy(new BearerAuth([{ token: 'scraper-only', scopes: ['metrics'] }]), options);
    expect(policy.authEnabled).toBe(false);
    expect(policy.authorize({ authorization: undefined, tenant: 'team-a' }, 'ingest').tenant).toBe('team-a');
    expect(policy.authorize({ authorization: 'Bearer anything', tenant: undefined }, 'read').tenant).toBeUndefined();
  });

  test('once a token guards the data path, a metrics token is refused there for its scope', () => {
    const policy = new CallerPolicy(
      new BearerAuth([{ token: 'scraper-only', scopes: ['metrics'] }, { token: 'collector', scopes: ['ingest'] }]),
      options,
    );
    expect(policy.authEnabled).toBe(true);
    const error = thrown(() => policy.authorize({ authorization: 'Bearer scraper-only', tenant: undefined }, 'ingest'));
    expect(error).toBeInstanceOf(PermissionDeniedError);
    expect(error.message).toBe('this token lacks the "ingest" scope');
    expect(thrown(() => policy.authorize({ authorization: undefined, tenant: undefined }, 'ingest'))).toBeInstanceOf(UnauthenticatedError);
    expect(policy.authorize({ authorization: 'Bearer collector', tenant: undefined }, 'ingest').tenant).toBe('default');
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

  test('YAML tokens (inline and files, relative to the working directory, ingest unless scoped) plus the environment\'s ingest and read tokens, unbound', () => {
    const config = load(
      { OTLP_CAPTURE_BEARER_TOKEN: SECRET_ADMIN, OTLP_CAPTURE_READ_TOKEN: 'reader-5c2e' },
      `auth:\n  bearerTokens:\n    - token: "${SECRET_A}"\n      tenant: team-a\n    - { tokenFile: secrets/b, tenant: team-b, scopes: [read] }\n`,
    );
    expect(config.auth.bearerTokens).toEqual([
      { token: SECRET_A, tenant: 'team-a', scopes: ['ingest'] },
      { tokenFile: path.join(dir, 'secrets/b'), tenant: 'team-b', scopes: ['read'] },
      { token: SECRET_ADMIN, scopes: ['ingest'] },
      { token: 'reader-5c2e', scopes: ['read', 'replay'] },
    ]);
    expect(load({ OTLP_CAPTURE_BEARER_TOKEN: SECRET_ADMIN }).auth.bearerTokens).toEqual([{ token: SECRET_ADMIN, scopes: ['ingest'] }]);
    expect(load({ OTLP_CAPTURE_READ_TOKEN: SECRET_ADMIN }).auth.bearerTokens).toEqual([{ token: SECRET_ADMIN, scopes: ['read', 'replay'] }]);
    expect(load({ OTLP_CAPTURE_METRICS_TOKEN: 'scraper-19af' }).auth.bearerTokens).toEqual([{ token: 'scraper-19af', scopes: ['metrics'] }]);
  });

  test('scopes: only ingest, read, replay, metrics; at least one; replay only together with read', () => {
    const unknown = configError({}, `auth:\n  bearerTokens:\n    - { token: "${SECRET_A}", scopes: [admin] }\n`);
    expect(unknown).toMatch(/auth\.bearerTokens\.0\.scopes\.0: expected one of ingest, read, replay, metrics/);
    const none = configError({}, `auth:\n  bearerTokens:\n    - { token: "${SECRET_A}", scopes: [] }\n`);
    expect(none).toMatch(/auth\.bearerTokens\.0\.scopes: name at least one scope/);
    const replayAlone = configError({}, `auth:\n  bearerTokens:\n    - { token: "${SECRET_A}", scopes: [replay] }\n`);
    expect(replayAlone).toMatch(/auth\.bearerTokens\.0\.scopes: replay needs read too/);
    for (const message of [unknown, none, replayAlone]) expect(message).not.toContain(SECRET_A);
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
