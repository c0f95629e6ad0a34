// otlp-capture configurations found in deploy files (mounted files, ConfigMaps), validated by the real loader with
// the environment the container would have, and the numbers deployments must agree with.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ENV_OVERRIDES, ENV_SWITCHES, loadConfig, TOKEN_ENVS, type ResolvedConfig } from '../../src/config/load.js';
import { parseListen } from '../../src/config/units.js';

/** Every environment variable the configuration loader reads. */
export const LOADER_ENV: ReadonlySet<string> = new Set([...Object.keys(ENV_OVERRIDES), ...Object.keys(ENV_SWITCHES), ...Object.keys(TOKEN_ENVS)]);

/** A value of the right shape for a variable whose real value is a secret the test does not have. */
export function placeholderFor(name: string): string {
  if (name === 'SLACK_WEBHOOK_URL') return 'https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX';
  if (name === 'CLICKHOUSE_URL') return 'http://clickhouse:8123';
  if (name === 'S3_ENDPOINT') return 'http://s3:9000';
  // One per variable: two secrets are two different values (otlp-capture refuses one token with two sets of scopes).
  return `placeholder-${name.toLowerCase().replace(/_/g, '-')}`;
}

/** Loads a configuration text as `serve --config` would, with `env` as the process environment. */
export function loadConfigText(text: string, env: Record<string, string>): ResolvedConfig {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'deploy-config-'));
  try {
    const file = path.join(dir, 'config.yaml');
    writeFileSync(file, text);
    return loadConfig({ file, env, cwd: '/' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function portOf(listen: string): number {
  const parsed = parseListen(listen);
  if (parsed === null) throw new Error(`not HOST:PORT: ${listen}`);
  return parsed.port;
}

export function isLoopback(listen: string): boolean {
  const host = parseListen(listen)?.host ?? '';
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}

/** The four listeners of a configuration, by role. */
export function listenPorts(config: ResolvedConfig): { grpc: number; http: number; admin: number; api: number } {
  return {
    grpc: portOf(config.server.grpc.listen),
    http: portOf(config.server.http.listen),
    admin: portOf(config.server.admin.listen),
    api: portOf(config.server.api.listen),
  };
}

/** The listen addresses reachable from outside the container (not loopback). */
export function reachableListens(config: ResolvedConfig): string[] {
  const { grpc, http, admin, api } = config.server;
  return [grpc.listen, http.listen, admin.listen, api.listen].filter((listen) => !isLoopback(listen));
}

/** Whether a token that may read is configured (then the API may listen beyond loopback). */
export function hasReadToken(config: ResolvedConfig): boolean {
  return config.auth.bearerTokens.some((token) => token.scopes.includes('read'));
}

const MiB = 2 ** 20;
/**
 * Node, gRPC, the index and everything else that is not request bytes or upload buffers: what docs/BENCHMARKS.md
 * measured above the in-flight budget under overload (peak RSS up to 321 MiB against a 64 MiB budget in the storm
 * cases), rounded up.
 */
export const BASE_MEMORY = 260 * MiB;

/**
 * The memory a container needs at least: the in-flight budget, the S3 multipart buffers (each object being
 * uploaded holds about partSize × (uploadQueueSize + 3)), and the process itself.
 */
export function memoryNeeded(config: ResolvedConfig): number {
  const s3 = config.storage.s3;
  const uploads = config.storage.type === 's3' ? s3.partSize * (s3.uploadQueueSize + 3) * config.archiver.uploadConcurrency : 0;
  return config.admission.maxInFlightBytes + uploads + BASE_MEMORY;
}

const QUANTITY_UNITS: Record<string, number> = {
  '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40,
};

/** A Kubernetes memory/storage quantity ("1Gi", "512Mi", "500M", "1048576") in bytes. */
export function parseQuantity(quantity: unknown): number {
  const match = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|k|M|G|T)?$/.exec(String(quantity));
  if (!match) throw new Error(`not a quantity: ${String(quantity)}`);
  return Number(match[1]) * (QUANTITY_UNITS[match[2] ?? ''] as number);
}

/** A Compose duration ("45s", "1m30s", "500ms") in milliseconds. */
export function parseComposeDuration(duration: unknown): number {
  const text = String(duration);
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ms|h|m|s)/g)];
  if (parts.length === 0 || parts.map((part) => part[0]).join('') !== text) throw new Error(`not a duration: ${text}`);
  const unit: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  return parts.reduce((sum, part) => sum + Number(part[1]) * (unit[part[2] as string] as number), 0);
}
