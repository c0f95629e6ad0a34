// Builds the adapters that config asks for, behind their ports. The only place that knows which adapter runs.
import type { ResolvedConfig } from '../config/load.js';
import { ConfigError } from '../errors.js';
import { ClickHouseIndexStore } from '../index/clickhouse-index-store.js';
import { SqliteIndexStore } from '../index/sqlite-index-store.js';
import type { IndexStore } from '../index/index-store.js';
import type { BlobStore } from '../storage/blob-store.js';
import { FsBlobStore } from '../storage/fs-blob-store.js';
import { S3BlobStore } from '../storage/s3-blob-store.js';
import type { Logger } from '../telemetry/logger.js';
import { NoopNotifier } from '../notify/noop-notifier.js';
import type { Notifier } from '../notify/notifier.js';
import { SlackNotifier } from '../notify/slack-notifier.js';

export interface BlobStoreSetup {
  logger?: Logger;
}

export function createBlobStore(config: ResolvedConfig, options: BlobStoreSetup = {}): BlobStore {
  switch (config.storage.type) {
    case 'filesystem':
      return new FsBlobStore(config.storage.filesystem.dir);
    case 's3': {
      const { connectTimeout, idleTimeout, bucket, ...s3 } = config.storage.s3;
      if (bucket === undefined) throw new ConfigError('storage.s3.bucket (S3_BUCKET) is required when storage.type is s3');
      return new S3BlobStore(
        { ...s3, bucket, connectTimeoutMs: connectTimeout, idleTimeoutMs: idleTimeout },
        options.logger ? { logger: options.logger } : {},
      );
    }
  }
}

export interface IndexStoreSetup {
  readonly: boolean;
  logger?: Logger;
  /** A writer that buffers writes (ClickHouse's outbox) starts even when its backend is down (serve). */
  bufferWhenUnavailable?: boolean;
  /** How long close() may spend writing out buffered rows (reindex waits longer than serve). */
  closeTimeoutMs?: number;
}

export function createIndexStore(config: ResolvedConfig, options: IndexStoreSetup): IndexStore {
  switch (config.index.type) {
    case 'sqlite':
      return new SqliteIndexStore(config.index.sqlite.path, { readonly: options.readonly });
    case 'clickhouse': {
      const ch = config.index.clickhouse;
      return new ClickHouseIndexStore({
        url: ch.url,
        user: ch.user,
        password: ch.password,
        database: ch.database,
        readonly: options.readonly,
        outboxPath: ch.outboxPath,
        batchRows: ch.batchRows,
        batchIntervalMs: ch.batchInterval,
        bufferWhenUnavailable: options.bufferWhenUnavailable ?? false,
        retryInitialBackoffMs: config.archiver.retryInitialBackoff,
        retryMaxBackoffMs: Math.min(config.archiver.retryMaxBackoff, 5000),
        ...(options.closeTimeoutMs === undefined ? {} : { closeTimeoutMs: options.closeTimeoutMs }),
        ...(options.logger ? { logger: options.logger } : {}),
      });
    }
  }
}

/** Slack when any webhook is configured (notify.slack.webhooks or SLACK_WEBHOOK_URL), else one that sends nothing. */
export function createNotifier(config: ResolvedConfig, logger: Logger): Notifier {
  const slack = config.notify.slack;
  if (!Object.values(slack.webhooks).some((url) => url !== undefined)) return new NoopNotifier();
  return new SlackNotifier(
    {
      webhooks: slack.webhooks,
      digestIntervalMs: slack.digestInterval,
      dedupWindowMs: slack.dedupWindow,
      maxQueue: slack.maxQueue,
      timeoutMs: slack.timeout,
      maxAttempts: slack.maxAttempts,
      retryInitialBackoffMs: slack.retryInitialBackoff,
      retryMaxBackoffMs: slack.retryMaxBackoff,
    },
    { logger },
  );
}
