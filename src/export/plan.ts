// The first pass of an export, over the index only: what the selection holds (totals for progress), where it ends
// (requests archived after this are not exported), and when each partition is complete. A partition (signal,
// tenant, hour) is complete once the last request of the selection that can hold data of that hour has been read:
// requests are read in id order, so that is the last one, in id order, whose hour range covers the hour. Knowing it
// up front lets the export close and mark a partition as soon as it is done, not only at the very end — which keeps
// files few and memory bounded, and makes `--resume` skip real work.
import type { ArchivedRequest } from '../model.js';
import type { QueryService } from '../query/query-service.js';
import { hourOf, streamId } from './partition.js';
import { selectRequests, type ExportFilter } from './selection.js';

export type ExportFormat = 'parquet' | 'otlp-json';

/** Hours [from, to] of one (signal, tenant) stream that are complete once request `lastId` has been read. */
export interface CompletedRange {
  stream: string;
  from: number;
  to: number;
}

export interface ExportPlan {
  requests: number;
  items: number;
  bytes: number;
  /** The last request of the selection; null when it is empty. */
  lastId: string | null;
  /** Request id → the hour ranges whose last request it is. */
  completions: Map<string, CompletedRange[]>;
}

/**
 * The hours whose partitions a request can put data in. Parquet places every item by its own time, which lies in the
 * request's data time range (the scanner that indexed it saw the same timestamps); OTLP JSON keeps requests whole
 * and places each by the start of its range.
 */
export function requestHours(request: Pick<ArchivedRequest, 'startNs' | 'endNs'>, format: ExportFormat): [number, number] {
  const from = hourOf(request.startNs);
  return [from, format === 'parquet' ? Math.max(from, hourOf(request.endNs)) : from];
}

export async function planExport(query: QueryService, filter: ExportFilter, format: ExportFormat): Promise<ExportPlan> {
  const ranges = new Map<string, LastIdRanges>();
  let requests = 0;
  let items = 0;
  let bytes = 0;
  let lastId: string | null = null;
  for await (const request of selectRequests(query, filter)) {
    requests += 1;
    items += request.items;
    bytes += request.rawBytes;
    lastId = request.id;
    const stream = streamId(request.signal, request.tenant);
    let streamRanges = ranges.get(stream);
    if (streamRanges === undefined) ranges.set(stream, (streamRanges = new LastIdRanges()));
    const [from, to] = requestHours(request, format);
    streamRanges.assign(from, to, request.id);
  }
  const completions = new Map<string, CompletedRange[]>();
  for (const [stream, streamRanges] of ranges) {
    for (const range of streamRanges.ranges) {
      let list = completions.get(range.lastId);
      if (list === undefined) completions.set(range.lastId, (list = []));
      list.push({ stream, from: range.from, to: range.to });
    }
  }
  return { requests, items, bytes, lastId, completions };
}

interface IdRange {
  from: number;
  to: number;
  lastId: string;
}

/**
 * Disjoint hour ranges, sorted, each with the last request id that covers it: assigning [from, to] to an id
 * overwrites whatever covered those hours before. Requests mostly arrive in time order, so the work is near the end.
 */
export class LastIdRanges {
  readonly ranges: IdRange[] = [];

  assign(from: number, to: number, lastId: string): void {
    const ranges = this.ranges;
    // First range that ends at or after `from` (ranges are disjoint and sorted, so their ends are sorted too).
    let low = 0;
    let high = ranges.length;
    while (low < high) {
      const mid = (low + high) >> 1;
      if (ranges[mid]!.to < from) low = mid + 1;
      else high = mid;
    }
    let last = low;
    while (last < ranges.length && ranges[last]!.from <= to) last++;
    const replaced: IdRange[] = [];
    const first = ranges[low];
    if (low < last && first!.from < from) replaced.push({ from: first!.from, to: from - 1, lastId: first!.lastId });
    replaced.push({ from, to, lastId });
    const tail = ranges[last - 1];
    if (low < last && tail!.to > to) replaced.push({ from: to + 1, to: tail!.to, lastId: tail!.lastId });
    ranges.splice(low, last - low, ...replaced);
  }

  /** The id covering `hour`, or undefined. */
  lastIdAt(hour: number): string | undefined {
    return this.ranges.find((range) => range.from <= hour && hour <= range.to)?.lastId;
  }
}
