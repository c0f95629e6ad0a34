// One retention run at a time, across processes and hosts: a lease document in the blob store (state-store.ts)
// naming its owner and an expiry. A run takes the lease, renews it while it works, and deletes it when done.
//
// Blob stores offer no compare-and-swap that every S3 server supports (s3rver has no conditional PUT), so taking
// the lease is write-then-verify: read (refuse if someone else's lease is live), write ours, wait `settleMs`, read
// again and go on only if ours survived. Two runs that both write within the settle window both read back the one
// written last, so only that one goes on — provided each write lands within the settle window, hence a settle time
// (1 s) far above a write's latency even on a loaded machine; a run pays it once. A lease past its expiry is taken over; so is one whose owner was a
// process on this host that no longer exists (a killed run need not block the next one for a whole TTL).
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import { OtlpCaptureError } from '../errors.js';
import type { StateStore } from './state-store.js';

export const LEASE_NAME = 'lease.json';

export interface LeaseRecord {
  owner: string;
  host: string;
  pid: number;
  acquiredAtMs: number;
  expiresAtMs: number;
}

/** Another run holds the lease: this run did nothing. */
export class LeaseHeldError extends OtlpCaptureError {
  constructor(readonly holder: LeaseRecord) {
    super(
      `another retention run holds the lease (${holder.host} pid ${holder.pid}, since ${new Date(holder.acquiredAtMs).toISOString()}, ` +
        `expires ${new Date(holder.expiresAtMs).toISOString()}); nothing was done`,
    );
  }
}

export interface LeaseOptions {
  ttlMs: number;
  settleMs?: number;
  nowMs?: () => number;
}

/** Whether a lease is still in force at `nowMs` (expired, or its process on this host is gone: not). */
export function leaseIsLive(lease: LeaseRecord, nowMs: number): boolean {
  if (lease.expiresAtMs <= nowMs) return false;
  if (lease.host === os.hostname() && !processExists(lease.pid)) return false;
  return true;
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export class RetentionLease {
  readonly owner = randomUUID();
  private readonly ttlMs: number;
  private readonly settleMs: number;
  private readonly now: () => number;
  private acquiredAtMs = 0;

  constructor(private readonly state: StateStore, options: LeaseOptions) {
    this.ttlMs = options.ttlMs;
    this.settleMs = options.settleMs ?? 1000;
    this.now = options.nowMs ?? Date.now;
  }

  /** Takes the lease or throws LeaseHeldError. */
  async acquire(): Promise<void> {
    const current = await this.state.read<LeaseRecord>(LEASE_NAME);
    if (current !== null && current.owner !== this.owner && leaseIsLive(current, this.now())) throw new LeaseHeldError(current);
    this.acquiredAtMs = this.now();
    await this.write();
    await new Promise((resolve) => setTimeout(resolve, this.settleMs));
    const after = await this.state.read<LeaseRecord>(LEASE_NAME);
    if (after === null || after.owner !== this.owner) {
      throw new LeaseHeldError(after ?? { owner: '?', host: 'another process', pid: 0, acquiredAtMs: this.now(), expiresAtMs: this.now() });
    }
  }

  /** Extends the lease; false when it is no longer ours (taken over after expiring): the run must stop. */
  async renew(): Promise<boolean> {
    const current = await this.state.read<LeaseRecord>(LEASE_NAME);
    if (current !== null && current.owner !== this.owner) return false;
    await this.write();
    return true;
  }

  /** Removes the lease if it is still ours. */
  async release(): Promise<void> {
    const current = await this.state.read<LeaseRecord>(LEASE_NAME);
    if (current !== null && current.owner === this.owner) await this.state.remove(LEASE_NAME);
  }

  private async write(): Promise<void> {
    const record: LeaseRecord = {
      owner: this.owner,
      host: os.hostname(),
      pid: process.pid,
      acquiredAtMs: this.acquiredAtMs,
      expiresAtMs: this.now() + this.ttlMs,
    };
    await this.state.write(LEASE_NAME, record);
  }
}
