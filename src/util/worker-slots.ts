// What the worker-thread pools (zstd, OTLP/JSON) share: each worker is a slot holding the jobs posted to it, in order.

/** A worker died or was stopped: its slot leaves the pool and the jobs it held fail with `error` (nothing answered them). */
export function dropSlot<J extends { reject(error: Error): void }>(slots: { jobs: J[] }[], slot: { jobs: J[] }, error: Error): void {
  const index = slots.indexOf(slot);
  if (index >= 0) slots.splice(index, 1);
  for (const job of slot.jobs.splice(0)) job.reject(error);
}
