// Options and setup shared by the commands that read the archive (list, get, …).
import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { isValidTenant } from '../admission/tenant.js';
import { loadConfig, type ResolvedConfig } from '../config/load.js';
import { NotFoundError } from '../errors.js';
import type { IndexStore } from '../index/index-store.js';
import type { QueryService } from '../query/query-service.js';
import { UsageError } from './exit.js';
import type { BlobStore } from '../storage/blob-store.js';

export interface StoreOptions {
  config?: string;
  dataDir?: string;
  /** Read commands: running instances whose hot tier to merge in (HOST:PORT of their API listener). */
  server?: string[];
  token?: string;
  serverTls?: boolean;
  serverCa?: string;
}

const collectServers = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];

/** --server and its credentials, on the read commands (list, get, find-trace, replay, tail). */
export function addServerOptions(command: Command): Command {
  return command
    .option(
      '--server <host:port>',
      "a running instance's API (server.api.listen) whose not-yet-archived requests to include (repeatable)",
      collectServers,
    )
    .option('--token <token>', 'read token for --server (default: $OTLP_CAPTURE_READ_TOKEN)')
    .option('--server-tls', 'TLS to --server, verified against the system roots or --server-ca')
    .option('--server-ca <file>', 'PEM CA certificate(s) to verify --server with (implies --server-tls)');
}

/** Clients of the --server instances (none when not given). */
export async function serverClients(options: StoreOptions): Promise<import('../api/capture-client.js').CaptureClient[]> {
  if (!options.server || options.server.length === 0) return [];
  const { CaptureClient } = await import('../api/capture-client.js');
  const token = options.token ?? process.env.OTLP_CAPTURE_READ_TOKEN;
  return options.server.map(
    (address) =>
      new CaptureClient({
        address,
        ...(token ? { token } : {}),
        ...(options.serverTls ? { tls: true } : {}),
        ...(options.serverCa === undefined ? {} : { caFile: options.serverCa }),
      }),
  );
}

export function addStoreOptions(command: Command): Command {
  return command
    .option('-c, --config <file>', 'YAML configuration file (same as serve)')
    .option('-d, --data-dir <dir>', 'data directory of the embedded default (default ./data)');
}

/** A --tenant value, checked like the tenant header (so a typo or a path never reaches a query); undefined if unset. */
export function tenantOption(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (!isValidTenant(value)) {
    throw new UsageError(
      `--tenant ${JSON.stringify(value.slice(0, 80))} is not a tenant name: 1-63 characters of A-Z a-z 0-9 . _ - starting with a letter or digit`,
    );
  }
  return value;
}

export function configFrom(options: StoreOptions): ResolvedConfig {
  return loadConfig({
    ...(options.config ? { file: options.config } : {}),
    overrides: { dataDir: options.dataDir },
  });
}

export interface ReadSide {
  config: ResolvedConfig;
  index: IndexStore;
  blobs: BlobStore;
  query: QueryService;
  close(): Promise<void>;
}

/** The --server instances' hot tiers; gRPC loads only when there are any. */
async function remoteHotTiers(options: StoreOptions): Promise<import('../query/hot-tier.js').HotTier[]> {
  const clients = await serverClients(options);
  if (clients.length === 0) return [];
  const { RemoteHotTier } = await import('../api/remote-hot-tier.js');
  return clients.map((client) => new RemoteHotTier(client));
}

/**
 * For commands that work on an existing archive (retention, reindex, retention status): a filesystem archive
 * directory that does not exist is a mistyped --data-dir or --config, refused before starting the store would create
 * an empty archive there and report on it as if all were well.
 */
export function requireArchive(config: ResolvedConfig): void {
  if (config.storage.type === 'filesystem' && !existsSync(config.storage.filesystem.dir)) {
    throw new NotFoundError(
      `no archive at ${config.storage.filesystem.dir}: nothing has been captured there yet (is --data-dir or --config right?)`,
    );
  }
}

/** Opens the index read-only and the blob store, as a second process beside a running `serve`. */
export async function openReadSide(options: StoreOptions): Promise<ReadSide> {
  const config = configFrom(options);
  if (config.index.type === 'sqlite' && !existsSync(config.index.sqlite.path)) {
    throw new NotFoundError(
      `no capture index at ${config.index.sqlite.path}: nothing has been captured there yet (is --data-dir or --config right?)`,
    );
  }
  return openReadSideFor(config, options);
}

/** The read side for a configuration already loaded (the bench's, with S3 / ClickHouse settings in its env). */
export async function openReadSideFor(config: ResolvedConfig, options: StoreOptions = {}): Promise<ReadSide> {
  // Loaded on use: `--help` and usage errors need none of it, and components.ts loads only the adapters configured.
  const [{ createBlobStore, createIndexStore }, { QueryService }] = await Promise.all([
    import('../app/components.js'),
    import('../query/query-service.js'),
  ]);
  // After those: jest's ESM loader fails on a builtin (node:zlib) linked by several dynamic imports at once.
  const { TieredIndex } = await import('../query/tiered-index.js');
  const { SpoolHotTier } = await import('../query/spool-hot-tier.js');
  const remotes = await remoteHotTiers(options);
  // Both at once: ClickHouse answers its start-up queries while the S3 SDK loads (~40 ms of a CLI run on two cores).
  const opening = async (): Promise<IndexStore> => {
    const store = await createIndexStore(config, { readonly: true });
    await store.start();
    return store;
  };
  const [opened, created] = await Promise.allSettled([opening(), createBlobStore(config)]);
  if (opened.status === 'rejected' || created.status === 'rejected') {
    if (opened.status === 'fulfilled') await opened.value.close();
    if (created.status === 'fulfilled') await created.value.close();
    throw opened.status === 'rejected' ? opened.reason : (created as PromiseRejectedResult).reason;
  }
  // What is acknowledged but not archived yet: the spool of a serve on this data directory (read-only, beside it),
  // and the hot tiers of the --server instances.
  const hot = new SpoolHotTier(config.spool.dir);
  const index = new TieredIndex(opened.value, [hot, ...remotes]);
  const blobs = created.value;
  return {
    config,
    index,
    blobs,
    query: new QueryService(index, blobs, undefined, config.dedup.window),
    close: async () => {
      await index.close();
      await blobs.close();
    },
  };
}
