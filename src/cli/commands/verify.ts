import type { Command } from 'commander';
import type { IndexStore } from '../../index/index-store.js';
import type { VerifyProgress, VerifyReport } from '../../index/verify.js';
import { parseTime } from '../../config/units.js';
import type { BlobStore } from '../../storage/blob-store.js';
import { addStoreOptions, configFrom, openReadSide, tenantOption, type StoreOptions } from '../common.js';
import { EXIT_FAILURE, reportAndExit, UsageError } from '../exit.js';
import { etaText, formatBytes, formatDuration, progressDisplay, type ProgressView } from '../progress.js';

interface VerifyCliOptions extends StoreOptions {
  prefix?: string;
  tenant?: string;
  since?: string;
  concurrency: string;
  json?: boolean;
  repair?: boolean;
  force?: boolean;
}

/** close() may take this long to write out what a buffering index (ClickHouse's outbox) still holds. */
const CLOSE_TIMEOUT_MS = 10 * 60_000;

export function registerVerify(program: Command): void {
  addStoreOptions(
    program
      .command('verify')
      .description(
        'check every archive object against the index: blocks against their CRC and length, objects missing, ' +
          'objects not indexed; exit 1 when anything is wrong',
      )
      .option('--prefix <prefix>', 'only objects whose key starts with this, e.g. acme/traces/2026/')
      .option('--tenant <tenant>', "only this tenant's objects")
      .option('--since <time>', 'only objects created since, e.g. 2026-05-01T00:00:00Z or 24h')
      .option('--concurrency <n>', 'archive objects read at once', '4')
      .option('--json', 'print the report as JSON')
      .option('--repair', 'index objects missing from the index; quarantine requests whose block is damaged or object missing')
      .option('--force', 'with --repair: also when the blob store has none of the objects in scope (refused otherwise: a wrong bucket or prefix looks like that)'),
  ).action(async (options: VerifyCliOptions) => {
    try {
      const concurrency = Number(options.concurrency);
      if (!Number.isSafeInteger(concurrency) || concurrency < 1 || concurrency > 64) {
        throw new UsageError(`--concurrency must be an integer from 1 to 64, not ${JSON.stringify(options.concurrency)}`);
      }
      const tenant = tenantOption(options.tenant);
      let sinceMs: number | undefined;
      if (options.since !== undefined) {
        const ns = parseTime(options.since);
        if (ns === null) throw new UsageError(`--since must be a time such as 2026-05-01T12:00:00Z or 24h, not ${JSON.stringify(options.since)}`);
        sinceMs = Number(ns / 1_000_000n);
      }
      const [{ verify }, { isTieredIndex }] = await Promise.all([import('../../index/verify.js'), import('../../query/tiered-index.js')]);
      const stores = options.repair ? await openWritable(options) : await openReadSide(options);
      try {
        // The archive's own index: the read side adds the spool's hot tier, whose requests (no object yet, key "")
        // are not in the archive — checking them failed every verify beside a `serve` with unarchived data.
        const index = isTieredIndex(stores.index) ? stores.index.archive : stores.index;
        const display = progressDisplay(process.stderr, 'verify');
        const report = await verify(stores.blobs, index, {
          ...(options.prefix === undefined ? {} : { prefix: options.prefix }),
          ...(tenant === undefined ? {} : { tenant }),
          ...(sinceMs === undefined ? {} : { sinceMs }),
          repair: options.repair === true,
          force: options.force === true,
          concurrency,
          onProgress: (progress) => display.update(progressView(progress)),
        });
        display.finish(progressView(report));
        process.stdout.write(options.json ? `${JSON.stringify(report, null, 2)}\n` : humanReport(report, index.describe()));
        if (!report.ok) process.exitCode = EXIT_FAILURE;
      } finally {
        await stores.close();
      }
    } catch (error) {
      reportAndExit(error);
    }
  });
}

/** --repair writes to the index, so it opens it for writing (as reindex does). */
async function openWritable(options: StoreOptions): Promise<{ index: IndexStore; blobs: BlobStore; close(): Promise<void> }> {
  const config = configFrom(options);
  const [{ createBlobStore, createIndexStore }, { createLogger }] = await Promise.all([
    import('../../app/components.js'),
    import('../../telemetry/logger.js'),
  ]);
  const blobs = await createBlobStore(config);
  await blobs.start();
  const index = await createIndexStore(config, { readonly: false, logger: createLogger(config.log.level, 'stderr'), closeTimeoutMs: CLOSE_TIMEOUT_MS });
  try {
    await index.start();
  } catch (error) {
    await blobs.close();
    throw error;
  }
  return {
    index,
    blobs,
    close: async () => {
      await index.close();
      await blobs.close();
    },
  };
}

function progressView(p: VerifyProgress): ProgressView {
  const fraction = p.totalBytes > 0 ? p.bytes / p.totalBytes : p.totalObjects > 0 ? p.objects / p.totalObjects : 1;
  const problems = p.problems > 0 ? `, ${p.problems} problems` : '';
  return {
    fraction,
    text:
      `${p.objects}/${p.totalObjects} objects, ${p.blocks} blocks, ${formatBytes(p.bytes)}/${formatBytes(p.totalBytes)}` +
      `${problems}${etaText(p.elapsedMs, fraction)}`,
  };
}

/** One line per problem, each naming the object (and the offset and request for a block), then a summary. */
function humanReport(r: VerifyReport, index: string): string {
  const ids = (sample: string[], total: number): string =>
    sample.length === 0 ? '' : `; e.g. ${sample.join(', ')}${total > sample.length ? ', …' : ''}`;
  const lines: string[] = [
    ...r.missingObjects.map(
      (m) => `missing object: ${m.key} is not in the blob store; the index has ${m.requests} requests in it${ids(m.requestIds, m.requests)}`,
    ),
    ...r.damagedBlocks.map(
      (d) => `damaged block: ${d.key} at offset ${d.offset} (${d.length} bytes), request ${d.requestId}: ${d.reason}`,
    ),
    ...r.unreadableObjects.map((u) => `unreadable object: ${u.reason.includes(u.key) ? u.reason : `${u.key}: ${u.reason}`}`),
    ...r.unindexedObjects.map(
      (u) => `unindexed object: ${u.key} has no index rows${u.requests === null ? '' : ` (${u.requests} requests)`}`,
    ),
    ...r.partlyIndexedObjects.map(
      (p) => `partly indexed object: ${p.key}: ${p.unindexedRequests} of its requests are not in the index${ids(p.requestIds, p.unindexedRequests)}`,
    ),
  ];
  const known = r.alreadyQuarantined > 0 ? ` (${r.alreadyQuarantined} requests already quarantined by an earlier --repair)` : '';
  lines.push(
    `verified ${r.objects} objects, ${r.blocks} blocks, ${formatBytes(r.bytes)} in ${formatDuration(r.elapsedMs)} against ${index}: ` +
      `${r.ok ? 'no problems' : `${r.problems} problems`}${known}`,
  );
  if (r.repair) {
    lines.push(`repaired: indexed ${r.repair.indexedObjects.length} objects; quarantined ${r.repair.quarantinedRequests} requests`);
  } else if (!r.ok) {
    lines.push('run again with --repair to index the unindexed objects and quarantine what cannot be read');
  }
  return `${lines.join('\n')}\n`;
}
