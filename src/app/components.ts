// Builds the adapters that config asks for, behind their ports. The only place that knows which adapter runs.
import type { ResolvedConfig } from '../config/load.js';
import { ConfigError } from '../errors.js';
import type { IndexStore } from '../index/index-store.js';
import type { BlobStore } from '../storage/blob-store.js';
import type { Logger } from '../telemetry/logger.js';
import { NoopNotifier } from '../notify/noop-notifier.js';
import type { Notifier } from '../notify/notifier.js';
import { SlackNotifier } from '../notify/slack-notifier.js';

export interface BlobStoreSetup {
  logger?: Logger;
}

// Adapters are imported when chosen (not at the top): the AWS SDK and the ClickHouse client take longer to load than a
// CLI lookup on the embedded default takes to run, and a process needs only the pair its config names.
export async function createBlobStore(config: ResolvedConfig, options: BlobStoreSetup = {}): Promise<BlobStore> {
  switch (config.storage.type) {
    case 'filesystem': {
      const { FsBlobStore } = await import('../storage/fs-blob-store.js');
      return new FsBlobStore(config.storage.filesystem.dir);
    }
    case 's3': {
      const { connectTimeout, idleTimeout, bucket, ...s3 } = config.storage.s3;
      if (bucket === undefined) throw new ConfigError('storage.s3.bucket (S3_BUCKET) is required when storage.type is s3');
      const { S3BlobStore } = await import('../storage/s3-blob-store.js');
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

export async function createIndexStore(config: ResolvedConfig, options: IndexStoreSetup): Promise<IndexStore> {
  switch (config.index.type) {
    case 'sqlite': {
      const { SqliteIndexStore } = await import('../index/sqlite-index-store.js');
      return new SqliteIndexStore(config.index.sqlite.path, { readonly: options.readonly });
    }
    case 'clickhouse': {
      const ch = config.index.clickhouse;
      const { ClickHouseIndexStore } = await import('../index/clickhouse-index-store.js');
      return new ClickHouseIndexStore({
        url: ch.url,
        user: ch.user,
        password: ch.password,
        database: ch.database,
        ...(ch.cluster === undefined ? {} : { cluster: ch.cluster }),
        readonly: options.readonly,
        outboxPath: ch.outboxPath,
        outboxMaxBytes: ch.outboxMaxBytes,
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
