import type { Command } from 'commander';
import type { RequestFilter } from '../../model.js';
import { requestView } from '../../query/request-view.js';
import { addStoreOptions, openReadSide, type StoreOptions } from '../common.js';
import { reportAndExit, UsageError } from '../exit.js';
import { selectionFilter } from '../selection-options.js';

interface ListOptions extends StoreOptions {
  signal?: string;
  service?: string;
  tenant?: string;
  since?: string;
  until?: string;
  limit: string;
  json?: boolean;
}

export function registerList(program: Command): void {
  addStoreOptions(
    program
      .command('list')
      .description('list captured requests, oldest first')
      .option('--signal <signal>', 'traces, metrics or logs')
      .option('--service <name>', 'only requests carrying this service.name')
      .option('--tenant <tenant>', 'only this tenant')
      .option('--since <time>', 'data time range overlaps from this time (ISO-8601, or 15m / 2h / 7d ago)')
      .option('--until <time>', 'data time range overlaps up to this time')
      .option('--limit <n>', 'at most this many requests', '100')
      .option('--json', 'one JSON object per line'),
  ).action(async (options: ListOptions) => {
    try {
      const filter = toFilter(options);
      const read = await openReadSide(options);
      try {
        const rows = await read.query.listRequests(filter);
        const out: string[] = [];
        if (options.json) {
          for (const row of rows) out.push(JSON.stringify(requestView(row)));
        } else {
          out.push(['ID', 'SIGNAL', 'TENANT', 'RECEIVED', 'ITEMS', 'BYTES', 'SERVICES'].join('\t'));
          for (const row of rows) {
            const view = requestView(row);
            out.push([view.id, view.signal, view.tenant, view.receivedAt, view.items, view.bytes, view.services.join(',')].join('\t'));
          }
        }
        process.stdout.write(out.length > 0 ? `${out.join('\n')}\n` : '');
      } finally {
        await read.close();
      }
    } catch (error) {
      reportAndExit(error);
    }
  });
}

function toFilter(options: ListOptions): RequestFilter {
  const filter: RequestFilter = selectionFilter(options);
  const limit = Number(options.limit);
  if (!Number.isSafeInteger(limit) || limit < 1) throw new UsageError(`--limit must be a positive integer, not ${JSON.stringify(options.limit)}`);
  filter.limit = limit;
  return filter;
}
