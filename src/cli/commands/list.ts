import type { Command } from 'commander';
import type { PresentedRequest } from '../../query/dedup.js';
import { decodeCursor } from '../../query/request-cursor.js';
import { requestView } from '../../query/request-view.js';
import { addServerOptions, addStoreOptions, openReadSide, type StoreOptions } from '../common.js';
import { reportAndExit, UsageError } from '../exit.js';
import { selectionFilter } from '../selection-options.js';
import { Interruption } from '../stdio.js';

interface ListOptions extends StoreOptions {
  signal?: string;
  service?: string;
  tenant?: string;
  since?: string;
  until?: string;
  limit?: string;
  newest?: boolean;
  after?: string;
  all?: boolean;
  count?: boolean;
  json?: boolean;
  withDuplicates?: boolean;
}

const DEFAULT_LIMIT = 100;

export function registerList(program: Command): void {
  addServerOptions(addStoreOptions(
    program
      .command('list')
      .description('list captured requests, oldest first (--newest: newest first), a page at a time')
      .option('--signal <signal>', 'traces, metrics or logs')
      .option('--service <name>', 'only requests carrying this service.name')
      .option('--tenant <tenant>', 'only this tenant')
      .option('--since <time>', 'data time range overlaps from this time (ISO-8601, or a duration such as 15m or 1h30m: that long ago)')
      .option('--until <time>', 'data time range overlaps up to this time')
      .option('--newest', 'newest first')
      .option('--limit <n>', `at most this many requests (default ${DEFAULT_LIMIT}); when more match, stderr says how to get them`)
      .option('--after <cursor>', 'continue a listing where it stopped (the cursor it printed on stderr)')
      .option('--all', 'every matching request (streamed page by page)')
      .option('--count', 'only print how many requests match (distinct ones; with --with-duplicates: all)')
      .option('--with-duplicates', 'also show duplicates: requests repeating an earlier one within dedup.window (retries)')
      .option('--json', 'one JSON object per line'),
  )).action(async (options: ListOptions) => {
    try {
      const selection = selectionFilter(options);
      const limit = limitOf(options);
      if (options.count && (options.all || options.after !== undefined || options.limit !== undefined || options.newest)) {
        throw new UsageError('--count counts the whole selection: it takes no --limit, --after, --all or --newest');
      }
      if (options.all && options.limit !== undefined) throw new UsageError('--all lists every request: drop --limit');
      // A malformed cursor is a usage error before anything is opened.
      const position = options.after === undefined ? undefined : decodeCursor(options.after, selection);
      const withDuplicates = options.withDuplicates ?? false;
      const read = await openReadSide(options);
      // Ctrl-C stops the listing between batches, so what was printed ends with a whole row.
      const interruption = new Interruption();
      try {
        if (options.count) {
          process.stdout.write(`${await read.query.countRequests(selection, { withDuplicates })}\n`);
          return;
        }
        const printer = new RowPrinter(options.json ?? false, read.query.dedup.enabled);
        if (options.all) {
          const newestFirst = position?.newestFirst ?? options.newest ?? false;
          let batch: PresentedRequest[] = [];
          const walk = read.query.selectRequests(selection, { newestFirst, withDuplicates, counts: true, ...(position ? { afterId: position.afterId } : {}) });
          for await (const request of walk) {
            batch.push(request);
            if (batch.length >= 1000) {
              await printer.print(batch);
              batch = [];
            }
            if (interruption.interrupted) break;
          }
          await printer.print(batch);
          await printer.end();
          return;
        }
        const page = await read.query.listPage(selection, {
          limit,
          ...(options.newest ? { newestFirst: true } : {}),
          ...(options.after === undefined ? {} : { cursor: options.after }),
          withDuplicates,
        });
        if (interruption.interrupted) return;
        await printer.print(page.requests);
        await printer.end();
        if (page.nextCursor !== null) process.stderr.write(continuationHint(page.requests.length, page.nextCursor, read.query.dedup.enabled && !withDuplicates));
      } finally {
        await read.close();
        interruption.exitIfInterrupted();
        interruption.dispose();
      }
    } catch (error) {
      reportAndExit(error);
    }
  });
}

function limitOf(options: ListOptions): number {
  if (options.limit === undefined) return DEFAULT_LIMIT;
  const limit = Number(options.limit);
  if (!/^\d+$/.test(options.limit.trim()) || !Number.isSafeInteger(limit) || limit < 1) {
    throw new UsageError(`--limit must be a positive integer, not ${JSON.stringify(options.limit)}`);
  }
  return limit;
}

/** What to run for the rest, on stderr (stdout stays the rows alone, for scripts). */
function continuationHint(shown: number, cursor: string, distinct: boolean): string {
  return (
    `otlp-capture: ${shown} shown; more requests match. Next page: add --after ${cursor}\n` +
    `  (same filters); every one: --all; how many: --count${distinct ? ' (distinct; duplicates too: --with-duplicates)' : ''}\n`
  );
}

/** Rows as a table (a header once) or as JSON lines, written as they come; waits while stdout's reader lags. */
class RowPrinter {
  private headerDone = false;

  /** `dedup`: a DUPS column (a duplicate count, or "dup of ID" on a duplicate shown with --with-duplicates). */
  constructor(
    private readonly json: boolean,
    private readonly dedup: boolean,
  ) {}

  async print(rows: readonly PresentedRequest[]): Promise<void> {
    const out: string[] = [];
    if (!this.json && !this.headerDone) {
      out.push(['ID', 'SIGNAL', 'TENANT', 'RECEIVED', 'TIER', 'ITEMS', 'BYTES', ...(this.dedup ? ['DUPS'] : []), 'SERVICES'].join('\t'));
      this.headerDone = true;
    }
    for (const row of rows) {
      const view = requestView(row);
      const dups = view.duplicateOf !== undefined ? `dup of ${view.duplicateOf}` : String(view.duplicates ?? 0);
      out.push(
        this.json
          ? JSON.stringify(view)
          : [view.id, view.signal, view.tenant, view.receivedAt, view.tier, view.items, view.bytes, ...(this.dedup ? [dups] : []), view.services.join(',')].join('\t'),
      );
    }
    if (out.length > 0 && !process.stdout.write(`${out.join('\n')}\n`)) {
      await new Promise<void>((resolve) => process.stdout.once('drain', resolve));
    }
  }

  end(): Promise<void> {
    return this.print([]);
  }
}
