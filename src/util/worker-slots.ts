// What the worker-thread pools (zstd, OTLP/JSON) share: each worker is a slot holding the jobs posted to it, in order,
// and bytes cross to and from a worker moved (transferred), not cloned.

/** A worker died or was stopped: its slot leaves the pool and the jobs it held fail with `error` (nothing answered them). */
export function dropSlot<J extends { reject(error: Error): void }>(slots: { jobs: J[] }[], slot: { jobs: J[] }, error: Error): void {
  const index = slots.indexOf(slot);
  if (index >= 0) slots.splice(index, 1);
  for (const job of slot.jobs.splice(0)) job.reject(error);
}

/**
 * A fresh ArrayBuffer holding exactly `bytes`, to move to (or from) a worker: transferring the caller's own would
 * detach it under the caller, and a view's backing store is often larger (Node's pool, a read buffer), so cloning it
 * would copy all of that.
 */
export function detachedCopy(bytes: Uint8Array): ArrayBuffer {
  // allocUnsafeSlow: a backing store of its own and not zero-filled first (every byte is overwritten at once).
  const copy = Buffer.allocUnsafeSlow(bytes.length);
  copy.set(bytes);
  return copy.buffer as ArrayBuffer;
}
