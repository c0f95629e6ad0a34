// Configuration from, in rising precedence: defaults, a YAML file, environment variables, command-line flags.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { ConfigError } from '../errors.js';
import { configSchema, type Config } from './schema.js';

/** Config with every derived path made absolute. */
export type ResolvedConfig = Config & {
  spool: Config['spool'] & { dir: string };
  storage: Config['storage'] & { filesystem: { dir: string } };
  index: Config['index'] & { sqlite: { path: string } };
};

type Tree = Record<string, unknown>;

/** Environment variables that override one config key each. */
export const ENV_OVERRIDES: Record<string, string> = {
  OTLP_CAPTURE_DATA_DIR: 'dataDir',
  OTLP_CAPTURE_GRPC_LISTEN: 'server.grpc.listen',
  OTLP_CAPTURE_ADMIN_LISTEN: 'server.admin.listen',
  OTLP_CAPTURE_LOG_LEVEL: 'log.level',
  OTLP_CAPTURE_SPOOL_DURABILITY: 'spool.durability',
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
    parsed = parseYaml(text);
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
        `invalid ${where}:\n  - ${at}: must be a mapping of settings, got ${JSON.stringify(next)} ` +
          `(so ${dotted} from ${source} cannot be applied)`,
      );
    }
    node = node[key] as Tree;
  });
  node[keys[keys.length - 1] as string] = value;
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
  return {
    ...config,
    dataDir,
    spool: { ...config.spool, dir: under(config.spool.dir, 'spool') },
    storage: { ...config.storage, filesystem: { dir: under(config.storage.filesystem.dir, 'objects') } },
    index: { ...config.index, sqlite: { path: under(config.index.sqlite.path, 'index.sqlite') } },
  };
}
