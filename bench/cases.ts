// The cases the benchmark runs: each server with gzip off and on, the capture server at the archiver's default gzip
// level and at level 1, and the capture server offered far more than its in-flight budget.
import type { BenchOptions } from './options.js';

export interface BenchCase {
  name: string;
  server: 'discard' | 'capture';
  gzip: boolean;
  clients: number;
  /** capture: archiver.level (the codec default, gzip 6, when absent). */
  archiverLevel?: number;
  /** capture: admission.maxInFlightBytes (the default, 256 MiB, when absent). */
  maxInFlightBytes?: number;
  overload: boolean;
  /** capture: further config settings, merged over the above (used for what-if runs, e.g. codec none). */
  extraConfig?: Record<string, Record<string, unknown>>;
  /** Extra environment for the server process (e.g. UV_THREADPOOL_SIZE). */
  serverEnv?: Record<string, string>;
}

export function benchCases(options: BenchOptions): BenchCase[] {
  const n = options.clients;
  const all: BenchCase[] = [];
  for (const gzip of [false, true]) {
    const wire = gzip ? 'gzip' : 'plain';
    all.push(
      { name: `discard ${wire}`, server: 'discard', gzip, clients: n, overload: false },
      { name: `capture ${wire}`, server: 'capture', gzip, clients: n, overload: false },
      { name: `capture ${wire} L1`, server: 'capture', gzip, clients: n, archiverLevel: 1, overload: false },
    );
  }
  all.push({
    name: 'overload plain',
    server: 'capture',
    gzip: false,
    clients: options.overloadClients,
    maxInFlightBytes: options.overloadBudgetBytes,
    overload: true,
  });
  if (options.only.length === 0) return all;
  return all.filter((c) => options.only.some((wanted) => c.name === wanted || c.name.includes(wanted)));
}
