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

/**
 * The process's Node flags for a worker, minus `--input-type`: in a process started as `node --input-type=module -e …`
 * (as tools and tests embed the CLI) a worker inheriting it fails (a worker file: ERR_WORKER_INVALID_EXEC_ARGV; an
 * eval'd CommonJS source: read as a module, `require` undefined).
 */
export function workerExecArgv(execArgv: readonly string[] = process.execArgv): string[] {
  const kept: string[] = [];
  for (let i = 0; i < execArgv.length; i++) {
    const flag = execArgv[i]!;
    if (flag === '--input-type') {
      i += 1; // its value
      continue;
    }
    if (!flag.startsWith('--input-type=')) kept.push(flag);
  }
  return kept;
}
