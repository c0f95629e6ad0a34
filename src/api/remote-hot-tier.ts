// The hot tier of a running instance, asked over CaptureService with hot_only (the CLI's `--server`): what it has
// acknowledged and not archived yet, and what it archived whose index rows its outbox still holds (they are not in
// the shared index yet). The CLI merges it with the index it reads itself (tiered-index.ts).
import { NotFoundError } from '../errors.js';
import type { ArchivedRequest, RequestFilter, Signal } from '../model.js';
import { matchesFilter, pageOf, type HotRequest, type HotTier } from '../query/hot-tier.js';
import { CaptureClient, fromCapturedRequest, type CapturedRequestMessage } from './capture-client.js';

const SIGNAL_ENUM: Record<Signal, string> = { traces: 'SIGNAL_TRACES', metrics: 'SIGNAL_METRICS', logs: 'SIGNAL_LOGS' };
const PAGE = 1000;
/**
 * How long one pull of the instance's hot tier answers for the same filters. Reads ask a hot tier for every page they
 * read of the index (and, with dedup on, per stream of every chunk): re-pulling it each time made a 1,000-page replay
 * pull it thousands of times. Reusing a snapshot a moment old is safe for the merge: it was taken before the index
 * answer it is merged with, so a request released meanwhile is in the index answer (and shown once).
 */
const SNAPSHOT_TTL_MS = 2000;
/** Snapshots kept at once: a listing's filters and, with dedup on, one per (tenant, signal) stream it touches. */
const KEPT_SNAPSHOTS = 8;
/** Payloads fetched by get() kept for the read() that follows it. */
const KEPT_PAYLOADS = 16;

export class RemoteHotTier implements HotTier {
  private readonly payloads = new Map<string, Buffer>();
  private readonly snapshots = new Map<string, { atMs: number; rows: HotRequest[] }>();

  constructor(
    readonly client: CaptureClient,
    private readonly now: () => number = Date.now,
  ) {}

  async list(filter: RequestFilter): Promise<HotRequest[]> {
    const key = JSON.stringify([filter.signal, filter.service, filter.tenant, filter.sinceNs?.toString(), filter.untilNs?.toString()]);
    const at = this.now();
    const kept = this.snapshots.get(key);
    let rows = kept !== undefined && at - kept.atMs < SNAPSHOT_TTL_MS ? kept.rows : undefined;
    if (rows === undefined) {
      rows = await this.pull(filter);
      this.snapshots.delete(key);
      this.snapshots.set(key, { atMs: at, rows });
      if (this.snapshots.size > KEPT_SNAPSHOTS) this.snapshots.delete(this.snapshots.keys().next().value!);
    }
    return pageOf([...rows], filter);
  }

  /** The hot tier is what one archive object's age holds at most: read whole (then paged here, like the index). */
  private async pull(filter: RequestFilter): Promise<HotRequest[]> {
    const request: Record<string, unknown> = { hotOnly: true, pageSize: PAGE };
    if (filter.signal) request.signal = SIGNAL_ENUM[filter.signal];
    if (filter.service) request.service = filter.service;
    if (filter.tenant) request.tenant = filter.tenant;
    if (filter.sinceNs !== undefined) request.since = timestamp(filter.sinceNs);
    if (filter.untilNs !== undefined) request.until = timestamp(filter.untilNs);
    const all: HotRequest[] = [];
    for (let token = ''; ; ) {
      const response = await this.client.unary<{ requests: CapturedRequestMessage[]; nextPageToken: string }>('ListRequests', {
        ...request,
        ...(token ? { pageToken: token } : {}),
      });
      for (const message of response.requests) all.push(hot(fromCapturedRequest(message)));
      if (!response.nextPageToken) break;
      token = response.nextPageToken;
    }
    return all.filter((r) => matchesFilter(r, filter));
  }

  async get(id: string): Promise<HotRequest | null> {
    try {
      const response = await this.client.unary<{ request: CapturedRequestMessage; payload: Buffer }>('GetRequest', { id, hotOnly: true });
      this.keep(id, response.payload);
      return hot(fromCapturedRequest(response.request));
    } catch (error) {
      if (error instanceof NotFoundError) return null;
      throw error;
    }
  }

  async read(request: ArchivedRequest): Promise<Buffer> {
    const kept = this.payloads.get(request.id);
    if (kept) return kept;
    const response = await this.client.unary<{ payload: Buffer }>('GetRequest', { id: request.id, hotOnly: true });
    return response.payload;
  }

  async findTrace(traceId: string, filter: { tenant?: string }): Promise<HotRequest[]> {
    try {
      const response = await this.client.unary<{ requests: CapturedRequestMessage[] }>('FindTrace', {
        traceId,
        hotOnly: true,
        ...(filter.tenant === undefined ? {} : { tenant: filter.tenant }),
      });
      return response.requests.map((message) => hot(fromCapturedRequest(message)));
    } catch (error) {
      if (error instanceof NotFoundError) return [];
      throw error;
    }
  }

  async close(): Promise<void> {
    this.client.close();
  }

  private keep(id: string, payload: Buffer): void {
    this.payloads.set(id, payload);
    if (this.payloads.size > KEPT_PAYLOADS) this.payloads.delete(this.payloads.keys().next().value!);
  }
}

function hot(request: ArchivedRequest): HotRequest {
  return { ...request, tier: 'hot' };
}

function timestamp(ns: bigint): { seconds: string; nanos: number } {
  const nanos = ((ns % 1_000_000_000n) + 1_000_000_000n) % 1_000_000_000n;
  return { seconds: ((ns - nanos) / 1_000_000_000n).toString(), nanos: Number(nanos) };
}
