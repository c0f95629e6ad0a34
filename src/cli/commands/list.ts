import type { Command } from 'commander';
import { isSignal, type RequestFilter } from '../../model.js';
import { parseTimeArg, requestView } from '../../query/request-view.js';
import { addStoreOptions, openReadSide, tenantOption, type StoreOptions } from '../common.js';
import { reportAndExit, UsageError } from '../exit.js';

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
  const filter: RequestFilter = {};
  if (options.signal !== undefined) {
    if (!isSignal(options.signal)) throw new UsageError(`--signal must be traces, metrics or logs, not ${JSON.stringify(options.signal)}`);
    filter.signal = options.signal;
  }
  if (options.service !== undefined) filter.service = options.service;
  const tenant = tenantOption(options.tenant);
  if (tenant !== undefined) filter.tenant = tenant;
  for (const key of ['since', 'until'] as const) {
    const text = options[key];
    if (text === undefined) continue;
    const ns = parseTimeArg(text);
    if (ns === null) throw new UsageError(`--${key} must be a time such as 2024-05-01T12:00:00Z or 15m, not ${JSON.stringify(text)}`);
    if (key === 'since') filter.sinceNs = ns;
    else filter.untilNs = ns;
  }
  const limit = Number(options.limit);
  if (!Number.isSafeInteger(limit) || limit < 1) throw new UsageError(`--limit must be a positive integer, not ${JSON.stringify(options.limit)}`);
  filter.limit = limit;
  return filter;
}
