// Configuration from, in rising precedence: defaults, a YAML file, environment variables, command-line flags.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type * as Yaml from 'yaml';
import type { z } from 'zod';
import { ConfigError } from '../errors.js';
import { configSchema, type Config } from './schema.js';

/** Config with every derived path made absolute. */
export type ResolvedConfig = Config & {
  spool: Config['spool'] & { dir: string };
  storage: Config['storage'] & { filesystem: { dir: string } };
  index: Config['index'] & {
    sqlite: { path: string };
    clickhouse: Config['index']['clickhouse'] & { outboxPath: string };
  };
};

type Tree = Record<string, unknown>;

/** Environment variables that override one config key each. */
export const ENV_OVERRIDES: Record<string, string> = {
  OTLP_CAPTURE_DATA_DIR: 'dataDir',
  OTLP_CAPTURE_GRPC_LISTEN: 'server.grpc.listen',
  OTLP_CAPTURE_ADMIN_LISTEN: 'server.admin.listen',
  OTLP_CAPTURE_LOG_LEVEL: 'log.level',
  OTLP_CAPTURE_SPOOL_DURABILITY: 'spool.durability',
  OTLP_CAPTURE_DEDUP_WINDOW: 'dedup.window',
  OTLP_CAPTURE_HTTP_LISTEN: 'server.http.listen',
  OTLP_CAPTURE_API_LISTEN: 'server.api.listen',
  OTLP_CAPTURE_TLS_CERT_FILE: 'server.tls.certFile',
  OTLP_CAPTURE_TLS_KEY_FILE: 'server.tls.keyFile',
  OTLP_CAPTURE_TLS_CLIENT_CA_FILE: 'server.tls.clientCaFile',
  OTLP_CAPTURE_TLS_REQUIRE_CLIENT_CERT: 'server.tls.requireClientCert',
  CLICKHOUSE_URL: 'index.clickhouse.url',
  CLICKHOUSE_USER: 'index.clickhouse.user',
  CLICKHOUSE_PASSWORD: 'index.clickhouse.password',
  CLICKHOUSE_DATABASE: 'index.clickhouse.database',
  CLICKHOUSE_CLUSTER: 'index.clickhouse.cluster',
  S3_ENDPOINT: 'storage.s3.endpoint',
  S3_BUCKET: 'storage.s3.bucket',
  S3_REGION: 'storage.s3.region',
  S3_ACCESS_KEY: 'storage.s3.accessKeyId',
  S3_SECRET_KEY: 'storage.s3.secretAccessKey',
  S3_FORCE_PATH_STYLE: 'storage.s3.forcePathStyle',
  S3_CHECKSUMS: 'storage.s3.checksums',
  SLACK_WEBHOOK_URL: 'notify.slack.webhooks.default',
};

/** Environment variables whose presence also selects an adapter (set → this key gets this value). */
export const ENV_SWITCHES: Record<string, [key: string, value: string]> = {
  CLICKHOUSE_URL: ['index.type', 'clickhouse'],
  S3_BUCKET: ['storage.type', 's3'],
};

/** Adds one bearer token, bound to no tenant, to those of the file (auth.bearerTokens): it may ingest only. */
export const BEARER_TOKEN_ENV = 'OTLP_CAPTURE_BEARER_TOKEN';

/** Adds one bearer token, bound to no tenant, that may read and replay (and not ingest). */
export const READ_TOKEN_ENV = 'OTLP_CAPTURE_READ_TOKEN';

/** Adds one bearer token, bound to no tenant, that may read /metrics on the admin listener and nothing else. */
export const METRICS_TOKEN_ENV = 'OTLP_CAPTURE_METRICS_TOKEN';

/** Environment variables that each add a token, with the scopes it gets. */
export const TOKEN_ENVS: Readonly<Record<string, readonly string[]>> = {
  [BEARER_TOKEN_ENV]: ['ingest'],
  [READ_TOKEN_ENV]: ['read', 'replay'],
  [METRICS_TOKEN_ENV]: ['metrics'],
};

export interface LoadOptions {
  file?: string;
  env?: NodeJS.ProcessEnv;
  /** Dotted key → value, from command-line flags. */
  overrides?: Record<string, unknown>;
  cwd?: string;
}

export function loadConfig(options: LoadOptions = {}): ResolvedConfig {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const tree: Tree = options.file ? readYaml(options.file) : {};
  const where = options.file ? `configuration (${options.file})` : 'configuration';
  // Dotted key → where its value came from when not the file, so an error names what the user actually set.
  const origins = new Map<string, string>();
  for (const [name, key] of Object.entries(ENV_OVERRIDES)) {
    const value = env[name];
    if (value === undefined || value === '') continue;
    setPath(tree, key, value, name, where);
    origins.set(key, name);
  }
  for (const [name, [key, value]] of Object.entries(ENV_SWITCHES)) {
    if (env[name] === undefined || env[name] === '') continue;
    setPath(tree, key, value, name, where);
    origins.set(key, name);
  }
  for (const [name, scopes] of Object.entries(TOKEN_ENVS)) addEnvToken(tree, name, env[name], scopes, origins, where);
  for (const [key, value] of Object.entries(options.overrides ?? {})) {
    if (value === undefined) continue;
    setPath(tree, key, value, 'the command line', where);
    origins.set(key, 'the command line');
  }
  const result = configSchema.safeParse(tree);
  if (!result.success) {
    throw new ConfigError(`invalid ${where}:\n${formatIssues(result.error.issues, origins)}`);
  }
  return resolvePaths(result.data, cwd);
}

function readYaml(file: string): Tree {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError(`cannot read config file ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
  let parsed: unknown;
  try {
    // Required here, not imported at the top: only a config file needs the parser, and loading it costs a CLI run
    // with environment settings alone ~60 ms.
    parsed = (createRequire(import.meta.url)('yaml') as typeof Yaml).parse(text);
  } catch (error) {
    throw new ConfigError(`config file ${file} is not valid YAML: ${(error as Error).message}`);
  }
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ConfigError(`config file ${file} must hold a mapping of settings at the top level`);
  }
  return withoutNulls(parsed as Tree);
}

/**
 * A key written with no value (`log:` whose settings are all commented out) counts as unset, as an empty
 * environment variable does, rather than as a null that fails validation.
 */
function withoutNulls(tree: Tree): Tree {
  const out: Tree = {};
  for (const [key, value] of Object.entries(tree)) {
    if (value === null) continue;
    out[key] = typeof value === 'object' && !Array.isArray(value) ? withoutNulls(value as Tree) : value;
  }
  return out;
}

function setPath(tree: Tree, dotted: string, value: unknown, source: string, where: string): void {
  const keys = dotted.split('.');
  let node = tree;
  keys.slice(0, -1).forEach((key, depth) => {
    const next = node[key];
    if (next === undefined || next === null) node[key] = {};
    else if (typeof next !== 'object' || Array.isArray(next)) {
      // Replacing it with a mapping would silently drop what the file says there.
      const at = keys.slice(0, depth + 1).join('.');
      throw new ConfigError(
        // Under notify.slack the value may be a webhook URL, which is a secret.
        `invalid ${where}:\n  - ${at}: must be a mapping of settings, got ${at.startsWith('notify.slack') ? 'a value (not shown)' : JSON.stringify(next)} ` +
          `(so ${dotted} from ${source} cannot be applied)`,
      );
    }
    node = node[key] as Tree;
  });
  node[keys[keys.length - 1] as string] = value;
}

function addEnvToken(
  tree: Tree,
  name: string,
  token: string | undefined,
  scopes: readonly string[],
  origins: Map<string, string>,
  where: string,
): void {
  if (token === undefined || token === '') return;
  const auth = tree.auth;
  // Anything but a mapping with a list (or nothing) in the file is left for validation to report, whose messages do
  // not quote values: what is there may be a token.
  if (auth !== undefined && (typeof auth !== 'object' || auth === null || Array.isArray(auth))) return;
  const existing = (auth as Tree | undefined)?.bearerTokens;
  if (existing !== undefined && !Array.isArray(existing)) return;
  const list = existing ?? [];
  setPath(tree, 'auth.bearerTokens', [...list, { token, scopes: [...scopes] }], name, where);
  origins.set(`auth.bearerTokens.${list.length}`, name);
  origins.set(`auth.bearerTokens.${list.length}.token`, name);
}

function formatIssues(issues: readonly z.core.$ZodIssue[], origins: ReadonlyMap<string, string>): string {
  return issues
    .map((issue) => {
      const key = issue.path.join('.');
      const origin = origins.get(key);
      const at = (issue.path.length > 0 ? key : '(top level)') + (origin ? ` (from ${origin})` : '');
      if (issue.code === 'unrecognized_keys') return `  - ${at}: unknown key(s) ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
      return `  - ${at}: ${issue.message}`;
    })
    .join('\n');
}

function resolvePaths(config: Config, cwd: string): ResolvedConfig {
  const dataDir = path.resolve(cwd, config.dataDir);
  const under = (given: string | undefined, fallback: string): string =>
    given ? path.resolve(cwd, given) : path.join(dataDir, fallback);
  const file = (given: string): string => path.resolve(cwd, given);
  const tlsFiles = <T extends { certFile: string; keyFile: string; clientCaFile?: string | undefined }>(tls: T | undefined): T | undefined =>
    tls && {
      ...tls,
      certFile: file(tls.certFile),
      keyFile: file(tls.keyFile),
      clientCaFile: tls.clientCaFile === undefined ? undefined : file(tls.clientCaFile),
    };
  return {
    ...config,
    server: {
      ...config.server,
      tls: tlsFiles(config.server.tls),
      api: { ...config.server.api, tls: tlsFiles(config.server.api.tls) },
    },
    auth: {
      bearerTokens: config.auth.bearerTokens.map((entry) =>
        entry.tokenFile === undefined ? entry : { ...entry, tokenFile: file(entry.tokenFile) },
      ),
    },
    dataDir,
    spool: { ...config.spool, dir: under(config.spool.dir, 'spool') },
    storage: { ...config.storage, filesystem: { dir: under(config.storage.filesystem.dir, 'objects') } },
    index: {
      ...config.index,
      sqlite: { path: under(config.index.sqlite.path, 'index.sqlite') },
      clickhouse: { ...config.index.clickhouse, outboxPath: under(config.index.clickhouse.outboxPath, 'index-outbox.sqlite') },
    },
  };
}
