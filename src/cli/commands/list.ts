import type { Command } from 'commander';
import type { ArchivedRequest } from '../../model.js';
import { decodeCursor } from '../../query/request-cursor.js';
import { requestView } from '../../query/request-view.js';
import { addServerOptions, addStoreOptions, openReadSide, type StoreOptions } from '../common.js';
import { reportAndExit, UsageError } from '../exit.js';
import { selectionFilter } from '../selection-options.js';

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
      .option('--count', 'only print how many requests match')
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
      const read = await openReadSide(options);
      try {
        if (options.count) {
          process.stdout.write(`${await read.query.countRequests(selection)}\n`);
          return;
        }
        const printer = new RowPrinter(options.json ?? false);
        if (options.all) {
          const newestFirst = position?.newestFirst ?? options.newest ?? false;
          let batch: ArchivedRequest[] = [];
          for await (const request of read.query.selectRequests(selection, { newestFirst, ...(position ? { afterId: position.afterId } : {}) })) {
            batch.push(request);
            if (batch.length >= 1000) {
              await printer.print(batch);
              batch = [];
            }
          }
          await printer.print(batch);
          await printer.end();
          return;
        }
        const page = await read.query.listPage(selection, {
          limit,
          ...(options.newest ? { newestFirst: true } : {}),
          ...(options.after === undefined ? {} : { cursor: options.after }),
        });
        await printer.print(page.requests);
        await printer.end();
        if (page.nextCursor !== null) process.stderr.write(continuationHint(page.requests.length, page.nextCursor));
      } finally {
        await read.close();
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
function continuationHint(shown: number, cursor: string): string {
  return (
    `otlp-capture: ${shown} shown; more requests match. Next page: add --after ${cursor}\n` +
    '  (same filters); every one: --all; how many: --count\n'
  );
}

/** Rows as a table (a header once) or as JSON lines, written as they come; waits while stdout's reader lags. */
class RowPrinter {
  private headerDone = false;

  constructor(private readonly json: boolean) {}

  async print(rows: readonly ArchivedRequest[]): Promise<void> {
    const out: string[] = [];
    if (!this.json && !this.headerDone) {
      out.push(['ID', 'SIGNAL', 'TENANT', 'RECEIVED', 'TIER', 'ITEMS', 'BYTES', 'SERVICES'].join('\t'));
      this.headerDone = true;
    }
    for (const row of rows) {
      const view = requestView(row);
      out.push(this.json ? JSON.stringify(view) : [view.id, view.signal, view.tenant, view.receivedAt, view.tier, view.items, view.bytes, view.services.join(',')].join('\t'));
    }
    if (out.length > 0 && !process.stdout.write(`${out.join('\n')}\n`)) {
      await new Promise<void>((resolve) => process.stdout.once('drain', resolve));
    }
  }

  end(): Promise<void> {
    return this.print([]);
  }
}
