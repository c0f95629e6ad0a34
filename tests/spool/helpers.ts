// Shared by the spool tests: request metas, temp dirs, and reading a fixed number of records off a tail.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RequestMeta } from '../../src/model.js';
import type { TailedRecord } from '../../src/spool/spool.js';

export function metaFor(id: string, overrides: Partial<RequestMeta> = {}): RequestMeta {
  return {
    id,
    tenant: 'tenant-a',
    signal: 'traces',
    receivedAtMs: Date.now(),
    items: 3,
    services: ['checkout', 'payments'],
    startNs: 1_700_000_000_123_456_789n,
    endNs: 1_700_000_001_987_654_321n,
    rawBytes: 42,
    ...overrides,
  };
}

export function makeTempDir(): string {
  return mkdtempSync(join(tmpdir(), 'spool-test-'));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** Exactly `n` records from the tail; fails if they do not arrive within `timeoutMs`. */
export async function take(
  tail: AsyncIterator<TailedRecord>,
  n: number,
  timeoutMs = 10_000,
): Promise<TailedRecord[]> {
  const out: TailedRecord[] = [];
  const deadline = Date.now() + timeoutMs;
  while (out.length < n) {
    const next = await withTimeout(tail.next(), deadline - Date.now(), `tail gave ${out.length} of ${n} records`);
    if (next.done) throw new Error(`tail ended after ${out.length} of ${n} records`);
    out.push(next.value);
  }
  return out;
}

/** Resolves to 'waiting' if the tail has nothing within `ms`, otherwise to the record it yielded. */
export async function nextOrWaiting(
  pending: Promise<IteratorResult<TailedRecord>>,
  ms: number,
): Promise<IteratorResult<TailedRecord> | 'waiting'> {
  let timer: NodeJS.Timeout | undefined;
  const waiting = new Promise<'waiting'>((resolve) => {
    timer = setTimeout(() => resolve('waiting'), ms);
  });
  try {
    return await Promise.race([pending, waiting]);
  } finally {
    clearTimeout(timer);
  }
}

async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out: ${what}`)), Math.max(ms, 0));
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
