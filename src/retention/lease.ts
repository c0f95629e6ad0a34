// One retention run at a time, across processes and hosts: a lease document in the blob store (state-store.ts)
// naming its owner and an expiry. A run takes the lease, renews it while it works, and deletes it when done.
//
// Blob stores offer no compare-and-swap that every S3 server supports (s3rver has no conditional PUT), so taking
// the lease is write-then-verify: read (refuse if someone else's lease is live), write ours, wait `settleMs`, read
// again and go on only if ours survived. Two runs that both write within the settle window both read back the one
// written last, so only that one goes on — provided each write lands within the settle window, hence a settle time
// (1 s) far above a write's latency even on a loaded machine; a run pays it once. A lease past its expiry is taken over; so is one whose owner was a
// process on this host that no longer exists (a killed run need not block the next one for a whole TTL). "This
// host" means the same host name AND the same pid namespace: containers that share a host name (pods with
// hostNetwork share the node's) each have their own pids, and a pid absent here may be a live run there.
import { randomUUID } from 'node:crypto';
import { readlinkSync } from 'node:fs';
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
  /** Linux: the writer's pid namespace (`pid:[inode]`); absent elsewhere, and in leases of older versions. */
  pidNamespace?: string;
}

/** This process's pid namespace, or undefined where there is none to read (not Linux). */
function ownPidNamespace(): string | undefined {
  try {
    return readlinkSync('/proc/self/ns/pid');
  } catch {
    return undefined;
  }
}

const PID_NAMESPACE = ownPidNamespace();

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
  // Only a pid of our own namespace can be looked up here; any other lease waits for its expiry.
  if (lease.host === os.hostname() && lease.pidNamespace === PID_NAMESPACE && !processExists(lease.pid)) return false;
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
  /** When the write behind the last confirmed hold (acquire or renew) began: the lease is ours until then + ttl. */
  private confirmedAtMs = Number.NEGATIVE_INFINITY;
  private reconfirming: Promise<boolean> | null = null;

  constructor(private readonly state: StateStore, options: LeaseOptions) {
    this.ttlMs = options.ttlMs;
    this.settleMs = options.settleMs ?? 1000;
    this.now = options.nowMs ?? Date.now;
  }

  /** Takes the lease or throws LeaseHeldError. */
  async acquire(): Promise<void> {
    const current = await this.state.read<LeaseRecord>(LEASE_NAME);
    if (current !== null && current.owner !== this.owner && leaseIsLive(current, this.now())) throw new LeaseHeldError(current);
    if (current === null || current.owner !== this.owner) this.acquiredAtMs = this.now();
    const writtenAtMs = await this.write();
    await new Promise((resolve) => setTimeout(resolve, this.settleMs));
    const after = await this.state.read<LeaseRecord>(LEASE_NAME);
    if (after === null || after.owner !== this.owner) {
      throw new LeaseHeldError(after ?? { owner: '?', host: 'another process', pid: 0, acquiredAtMs: this.now(), expiresAtMs: this.now() });
    }
    this.confirmedAtMs = writtenAtMs;
  }

  /** Extends the lease; false when it is no longer ours (taken over after expiring): the run must stop. */
  async renew(): Promise<boolean> {
    const current = await this.state.read<LeaseRecord>(LEASE_NAME);
    if (current !== null && current.owner !== this.owner) return false;
    const writtenAtMs = await this.write();
    this.confirmedAtMs = Math.max(this.confirmedAtMs, writtenAtMs);
    return true;
  }

  /**
   * Whether the lease is surely still ours before a run starts another action. Renewals keep it so; when they have
   * not for most of the ttl (renewals failing, or this process stalled — a long pause, a frozen container — past the
   * expiry, when another run may have taken it over), the lease is taken again the way a new run takes it (write,
   * settle, read back). False: another run holds it now; this one must start nothing more.
   */
  async stillHeld(): Promise<boolean> {
    if (this.now() < this.confirmedAtMs + (this.ttlMs * 2) / 3) return true;
    this.reconfirming ??= this.acquire().then(
      () => true,
      (error: unknown) => {
        if (error instanceof LeaseHeldError) return false;
        throw error;
      },
    ).finally(() => {
      this.reconfirming = null;
    });
    return this.reconfirming;
  }

  /** Removes the lease if it is still ours. */
  async release(): Promise<void> {
    const current = await this.state.read<LeaseRecord>(LEASE_NAME);
    if (current !== null && current.owner === this.owner) await this.state.remove(LEASE_NAME);
  }

  /** Writes the lease; returns when the write began (its expiry counts from no earlier than that). */
  private async write(): Promise<number> {
    const startedAtMs = this.now();
    const record: LeaseRecord = {
      owner: this.owner,
      host: os.hostname(),
      pid: process.pid,
      acquiredAtMs: this.acquiredAtMs,
      expiresAtMs: this.now() + this.ttlMs,
      ...(PID_NAMESPACE === undefined ? {} : { pidNamespace: PID_NAMESPACE }),
    };
    await this.state.write(LEASE_NAME, record);
    return startedAtMs;
  }
}
