// This machine is small and shared: another build or test run takes cores from the server or the load generator
// and skews a case. Before each case, wait (bounded) until the machine has been idle for a moment.
import { setTimeout as sleep } from 'node:timers/promises';
import { readSystemCpuSeconds } from './proc-stats.js';

/** Machine-wide busy CPU over the next `ms`, in % of one core. */
async function busyPercentOver(ms: number): Promise<number> {
  const from = readSystemCpuSeconds();
  await sleep(ms);
  const to = readSystemCpuSeconds();
  return ((to.busy - from.busy) / (ms / 1000)) * 100;
}

/**
 * Resolves once two consecutive seconds were below `idlePercent` of one core busy, or after `maxWaitMs`; returns how
 * long it waited and whether the machine did go quiet.
 */
export async function waitForQuiet(idlePercent: number, maxWaitMs: number): Promise<{ waitedMs: number; quiet: boolean }> {
  const started = Date.now();
  let quietSeconds = 0;
  while (Date.now() - started < maxWaitMs) {
    quietSeconds = (await busyPercentOver(1000)) <= idlePercent ? quietSeconds + 1 : 0;
    if (quietSeconds >= 2) return { waitedMs: Date.now() - started, quiet: true };
  }
  return { waitedMs: Date.now() - started, quiet: false };
}
