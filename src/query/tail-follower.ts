// `tail`: requests as they are acknowledged, in acknowledgement (spool append) order, optionally starting back in
// time. Used by `otlp-capture tail` on a local data directory and by CaptureService.Tail on a server.
//
// The switch from "back in time" to "live" has no gap and no duplicate: the spool's current end is noted first, the
// backfill is then read (hot tier at that moment plus the index, each id once), and following starts right after
// the noted end. A request appended after the note but archived before the index was read is in both: the ids the
// backfill took from the index after the note are remembered and not shown again.
//
// Following polls the spool (a few header reads per new request; the writer is never waited on). Should a whole
// segment be archived and removed between two polls (only when archiving is far faster than the poll), what it held
// is read from the index, each id once.
import type { IndexStore } from '../index/index-store.js';
import type { ArchivedRequest } from '../model.js';
import { ulidFloor } from '../util/ulid.js';
import { matchesFilter } from './hot-tier.js';
import { mergeTiers } from './merge-tiers.js';
import type { Selection } from './request-cursor.js';
import { hotRequest, type SpoolHotTier } from './spool-hot-tier.js';

export const DEFAULT_TAIL_POLL_MS = 100;
const PAGE = 1000;
/** Ids shown live are remembered this long, to recognise them when they come back from the index after a gap. */
const RECENT_MS = 60_000;

export interface TailOptions {
  selection: Selection;
  /** Start with what was received from this time on (ms); only what comes next when unset. */
  sinceMs?: number;
  pollMs?: number;
  /** Ends the generator (at its next poll). */
  abort?: AbortSignal;
}

export async function* tailRequests(hot: SpoolHotTier, archive: IndexStore, options: TailOptions): AsyncGenerator<ArchivedRequest> {
  const { selection, abort } = options;
  const pollMs = options.pollMs ?? DEFAULT_TAIL_POLL_MS;
  await hot.refresh();
  let position = hot.reader.end();
  const notedAtMs = Date.now();
  const recent = new Map<string, number>();
  const remember = (request: ArchivedRequest): void => {
    if (request.receivedAtMs >= notedAtMs - RECENT_MS) recent.set(request.id, request.receivedAtMs);
  };
  let lastShownMs = notedAtMs;
  if (options.sinceMs !== undefined) {
    const sinceMs = options.sinceMs;
    // The hot part of the backfill is what the spool held up to the noted end (read by the same refresh).
    const hotNow: ArchivedRequest[] = [];
    for (const record of hot.reader.records()) {
      const request = hotRequest(record);
      if (!record.released && request.receivedAtMs >= sinceMs && matchesFilter(request, selection)) hotNow.push(request);
    }
    hotNow.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    for await (const request of backfill(hotNow, archive, selection, sinceMs)) {
      if (abort?.aborted) return;
      remember(request);
      lastShownMs = Math.max(lastShownMs, request.receivedAtMs);
      yield request;
    }
  }
  while (!abort?.aborted) {
    const refreshed = await hot.refresh();
    if (refreshed.missedSome) {
      // A segment came and went unseen: what it held is in the index by now.
      for await (const request of archivedSince(archive, selection, lastShownMs - RECENT_MS / 2)) {
        if (recent.has(request.id)) continue;
        remember(request);
        yield request;
      }
    }
    for (const record of hot.reader.recordsAfter(position.segment, position.offset)) {
      position = { segment: record.ref.segment, offset: record.ref.offset };
      const request = hotRequest(record);
      if (!matchesFilter(request, selection) || recent.has(request.id)) continue;
      remember(request);
      lastShownMs = Math.max(lastShownMs, request.receivedAtMs);
      yield request;
    }
    const cutoff = Date.now() - RECENT_MS;
    for (const [id, atMs] of recent) if (atMs < cutoff) recent.delete(id);
    await pause(pollMs, abort);
  }
}

/** What was received since `sinceMs`, in id order: the hot snapshot merged with the index (archive wins), page by page. */
async function* backfill(hotNow: readonly ArchivedRequest[], archive: IndexStore, selection: Selection, sinceMs: number): AsyncGenerator<ArchivedRequest> {
  let afterId = ulidFloor(sinceMs);
  let hotAt = 0;
  for (;;) {
    const page = await archive.listRequests({ ...selection, afterId, limit: PAGE });
    const last = page.at(-1)?.id;
    // Hot requests up to this page's last id (all of them after the last page) merge with it.
    const hotPart: ArchivedRequest[] = [];
    while (hotAt < hotNow.length && (page.length < PAGE || last === undefined || hotNow[hotAt]!.id <= last)) hotPart.push(hotNow[hotAt++]!);
    for (const request of mergeTiers(page, [hotPart], {})) if (request.receivedAtMs >= sinceMs) yield request;
    if (page.length < PAGE) return;
    afterId = last!;
  }
}

async function* archivedSince(archive: IndexStore, selection: Selection, sinceMs: number): AsyncGenerator<ArchivedRequest> {
  let afterId = ulidFloor(sinceMs);
  for (;;) {
    const page = await archive.listRequests({ ...selection, afterId, limit: PAGE });
    yield* page;
    if (page.length < PAGE) return;
    afterId = page.at(-1)!.id;
  }
}

function pause(ms: number, abort?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (abort?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      abort?.removeEventListener('abort', done);
      resolve();
    }
    abort?.addEventListener('abort', done, { once: true });
  });
}
