// `otlp-capture tail`: requests as they are acknowledged, like `kubectl logs -f`. On a local data directory it follows
// the spool of the serve running there (read-only); with --server it asks running instances (CaptureService.Tail).
import type { Command } from 'commander';
import type { ArchivedRequest, Signal } from '../../model.js';
import { parseTime, timeHint } from '../../config/units.js';
import { addServerOptions, addStoreOptions, openReadSide, serverClients, type StoreOptions } from '../common.js';
import { reportAndExit, UsageError } from '../exit.js';
import { selectionFilter } from '../selection-options.js';
import type { Selection } from '../../query/request-cursor.js';

interface TailOptions extends StoreOptions {
  signal?: string;
  service?: string;
  tenant?: string;
  since?: string;
  format: string;
}

type TailFormat = 'summary' | 'json';

export function registerTail(program: Command): void {
  addServerOptions(
    addStoreOptions(
      program
        .command('tail')
        .description('print requests as they are acknowledged (Ctrl-C stops); --since starts back in time, then follows')
        .option('--signal <signal>', 'traces, metrics or logs')
        .option('--service <name>', 'only requests carrying this service.name')
        .option('--tenant <tenant>', 'only this tenant')
        .option('--since <time>', 'first what was received since this time (ISO-8601, or a duration such as 5m: that long ago)')
        .option('--format <format>', 'summary (a line per request) or json (OTLP JSON, a line per request)', 'summary'),
    ),
  ).action(async (options: TailOptions) => {
    try {
      const selection = selectionFilter({
        ...(options.signal === undefined ? {} : { signal: options.signal }),
        ...(options.service === undefined ? {} : { service: options.service }),
        ...(options.tenant === undefined ? {} : { tenant: options.tenant }),
      });
      if (options.format !== 'summary' && options.format !== 'json') {
        throw new UsageError(`--format must be summary or json, not ${JSON.stringify(options.format)}`);
      }
      const format: TailFormat = options.format;
      let sinceMs: number | undefined;
      if (options.since !== undefined) {
        const ns = parseTime(options.since);
        if (ns === null) throw new UsageError(`--since must be a time such as 2024-05-01T12:00:00Z or a duration such as 5m, not ${JSON.stringify(options.since)}${timeHint(options.since)}`);
        sinceMs = Number(ns / 1_000_000n);
      }
      const abort = new AbortController();
      process.once('SIGINT', () => abort.abort());
      process.once('SIGTERM', () => abort.abort());
      process.stdout.on('error', () => abort.abort()); // a closed pipe (| head) ends the tail
      const printer = new TailPrinter(format);
      if (options.server && options.server.length > 0) await tailServers(options, selection, sinceMs, printer, abort.signal);
      else await tailLocal(options, selection, sinceMs, printer, abort.signal);
    } catch (error) {
      reportAndExit(error);
    }
  });
}

async function tailLocal(options: TailOptions, selection: Selection, sinceMs: number | undefined, printer: TailPrinter, abort: AbortSignal): Promise<void> {
  const [{ tailRequests }, { isTieredIndex }, { SpoolHotTier }, { readArchivedRequest }] = await Promise.all([
    import('../../query/tail-follower.js'),
    import('../../query/tiered-index.js'),
    import('../../query/spool-hot-tier.js'),
    import('../../query/read-archived.js'),
  ]);
  const read = await openReadSide(options);
  try {
    const index = read.index;
    if (!isTieredIndex(index) || !(index.hot[0] instanceof SpoolHotTier)) throw new Error('the read side has no spool hot tier');
    const requests = tailRequests(index.hot[0], index.archive, { selection, ...(sinceMs === undefined ? {} : { sinceMs }), pollMs: 200, abort });
    for await (const request of requests) {
      const payload = printer.format === 'json' ? await readArchivedRequest(index, read.blobs, request).catch(() => null) : null;
      await printer.print(request, payload);
    }
  } finally {
    await read.close();
  }
}

async function tailServers(options: TailOptions, selection: Selection, sinceMs: number | undefined, printer: TailPrinter, abort: AbortSignal): Promise<void> {
  const [clients, { fromCapturedRequest }] = await Promise.all([serverClients(options), import('../../api/capture-client.js')]);
  const SIGNALS: Record<Signal, string> = { traces: 'SIGNAL_TRACES', metrics: 'SIGNAL_METRICS', logs: 'SIGNAL_LOGS' };
  const request: Record<string, unknown> = { withPayload: printer.format === 'json' };
  if (selection.signal) request.signal = SIGNALS[selection.signal];
  if (selection.service) request.service = selection.service;
  if (selection.tenant) request.tenant = selection.tenant;
  if (sinceMs !== undefined) request.since = { seconds: String(Math.floor(sinceMs / 1000)), nanos: (sinceMs % 1000) * 1e6 };
  await Promise.all(
    clients.map(
      (client) =>
        new Promise<void>((resolve, reject) => {
          const call = client.stream('Tail', request);
          const cancel = (): void => call.cancel();
          abort.addEventListener('abort', cancel, { once: true });
          let printing = Promise.resolve();
          call.on('data', (event: { request?: never; missed?: string; payload?: Buffer }) => {
            if (!event.request && event.missed) {
              process.stderr.write(`otlp-capture: ${event.missed} requests missed from ${client.options.address} (this tail fell behind)\n`);
              return;
            }
            if (!event.request) return;
            const captured = fromCapturedRequest(event.request);
            call.pause();
            printing = printing.then(() => printer.print(captured, event.payload && event.payload.length > 0 ? event.payload : null)).then(() => {
              call.resume();
            });
          });
          call.on('error', (error: import('@grpc/grpc-js').ServiceError) => {
            client.close();
            if (abort.aborted) resolve();
            else reject(client.describe(error));
          });
          call.on('end', () => {
            client.close();
            void printing.then(() => resolve());
          });
        }),
    ),
  );
}

class TailPrinter {
  constructor(readonly format: TailFormat) {}

  async print(request: ArchivedRequest, payload: Buffer | null): Promise<void> {
    let line: string;
    if (this.format === 'json') {
      if (payload === null) {
        process.stderr.write(`otlp-capture: request ${request.id} could not be read; skipped\n`);
        return;
      }
      const { toOtlpJson } = await import('../../otlp/json.js');
      line = JSON.stringify(toOtlpJson(request.signal, payload));
    } else {
      line = [
        new Date(request.receivedAtMs).toISOString(),
        request.tenant,
        request.signal,
        request.services.join(',') || '-',
        `${request.items} items`,
        `${request.rawBytes} B`,
        request.id,
      ].join('\t');
    }
    if (!process.stdout.write(`${line}\n`)) await new Promise<void>((resolve) => process.stdout.once('drain', resolve));
  }
}
