// The hot tier read straight from a spool directory: what the archiver has not released yet. The same adapter serves
// the running server (its own spool) and a CLI beside it (read-only, no lock, no writes): the spool is already the
// durable truth of what was acknowledged, so reading it costs the ingest path nothing (no second index to keep), and
// a request is visible the moment its record is written. Each read refreshes incrementally (new record headers
// only; see SpoolReader).
//
// Released records (archived and indexed) are not answered, though their segment file may still be on disk: the
// index has them (their rows were committed before the release), and retention may since have deleted them — a
// request retention removed must not come back from the spool.
import { NotFoundError } from '../errors.js';
import type { ArchivedRequest, RequestFilter } from '../model.js';
import { spanTraceIds } from '../otlp/trace-filter.js';
import { SpoolReader, type RefreshOutcome, type SpooledRecord } from '../spool/spool-reader.js';
import { matchesFilter, pageOf, type HotRequest, type HotTier } from './hot-tier.js';

export interface HotTierStats {
  requests: number;
  /** Raw bytes of the hot requests. */
  bytes: number;
}

export class SpoolHotTier implements HotTier {
  readonly reader: SpoolReader;
  private readonly traceIdCache = new Map<string, string[]>();

  constructor(spoolDir: string) {
    this.reader = new SpoolReader(spoolDir);
  }

  refresh(): Promise<RefreshOutcome> {
    return this.reader.refresh();
  }

  async list(filter: RequestFilter): Promise<HotRequest[]> {
    await this.refresh();
    const matching: HotRequest[] = [];
    for (const record of this.reader.records()) {
      if (record.released) continue;
      const request = hotRequest(record);
      if (matchesFilter(request, filter)) matching.push(request);
    }
    return pageOf(matching, filter);
  }

  async get(id: string): Promise<HotRequest | null> {
    await this.refresh();
    const record = this.reader.get(id);
    return record && !record.released ? hotRequest(record) : null;
  }

  async read(request: ArchivedRequest): Promise<Buffer> {
    const record = this.reader.get(request.id);
    if (!record) throw new NotFoundError(`request ${request.id} is not in the spool (archived, or never here)`);
    return this.reader.read(record.ref);
  }

  async findTrace(traceId: string, filter: { tenant?: string }): Promise<HotRequest[]> {
    await this.refresh();
    const found: HotRequest[] = [];
    const live = new Set<string>();
    for (const record of this.reader.records()) {
      const meta = record.ref.meta;
      live.add(meta.id);
      if (record.released) continue;
      if (meta.signal !== 'traces' || (filter.tenant !== undefined && meta.tenant !== filter.tenant)) continue;
      let ids = this.traceIdCache.get(meta.id);
      if (ids === undefined) {
        try {
          ids = spanTraceIds(await this.reader.read(record.ref));
        } catch {
          continue; // archived meanwhile (the index answers for it), or damaged
        }
        this.traceIdCache.set(meta.id, ids);
      }
      if (ids.includes(traceId)) found.push(hotRequest(record));
    }
    for (const id of this.traceIdCache.keys()) if (!live.has(id)) this.traceIdCache.delete(id);
    return found;
  }

  /** What the last refresh saw (for metrics). */
  stats(): HotTierStats {
    let requests = 0;
    let bytes = 0;
    for (const record of this.reader.records()) {
      if (record.released) continue;
      requests += 1;
      bytes += record.ref.meta.rawBytes;
    }
    return { requests, bytes };
  }

  async close(): Promise<void> {}
}

/** A spool record as an index-like row: its location fields name the record (segment in `objectKey`). */
export function hotRequest(record: SpooledRecord): HotRequest {
  const { ref } = record;
  return {
    ...ref.meta,
    objectKey: '',
    offset: ref.offset,
    length: ref.length,
    codec: 'none',
    crc32: record.payloadCrc,
    tier: 'hot',
  };
}
