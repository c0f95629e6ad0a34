// Listing requests in id windows, for the filters an index has no key for (both adapters: data-time windows; on
// ClickHouse every listing, since 18.16 cannot stop a scan at `ORDER BY … LIMIT`). Request ids are ULIDs, so an id's
// first characters are its receive time (10 base-32 characters for 48 bits): the first six name a bucket of 2^20 ms
// ≈ 17.5 min.
// Each index keeps per (bucket, tenant, signal) how many requests it holds and the span of their data times; a listing
// asks for the buckets that can hold matches, in listing order, and reads the rows of just enough of them (as id
// ranges, which both indexes answer from their keys) to fill the page, learning as it goes how many of a bucket's
// rows the filter keeps. Bucket counts only size the windows: rows are always filtered exactly, so counts that run
// high (duplicates, deleted rows) cost reads, never correctness. A bucket missing from the counts would hide its rows;
// the counts are written with the rows (same transaction in SQLite, same insert in ClickHouse).

/** 6 of the 10 time characters: buckets of 2^20 ms ≈ 17.5 min (a 7th character: 2^15 ms ≈ 33 s; an 8th: ~1 s). */
export const BUCKET_CHARS = 6;
const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
/** Sorts after every character of a ULID: `prefix + HIGH` is above every id that starts with `prefix`. */
const HIGH = '~';

export function bucketOf(id: string): string {
  return id.slice(0, BUCKET_CHARS);
}

/** A bucket as a number (its 30 time bits), and back: for windows of buckets. */
export function bucketNumber(bucket: string): number {
  let n = 0;
  for (const c of bucket.slice(0, BUCKET_CHARS)) n = n * 32 + Math.max(0, ALPHABET.indexOf(c));
  return n;
}

export function bucketFromNumber(n: number): string {
  let out = '';
  let rest = Math.max(0, Math.floor(n));
  for (let i = 0; i < BUCKET_CHARS; i++) {
    out = ALPHABET[rest % 32]! + out;
    rest = Math.floor(rest / 32);
  }
  return out;
}

/** Ids from `from` (inclusive) to `to` (exclusive). */
export interface IdRange {
  from: string;
  to: string;
}

export function bucketRange(bucket: string): IdRange {
  return { from: bucket, to: bucket + HIGH };
}

/** The bucket right after this one in time, or null past the last. Used to merge neighbours into one range. */
export function nextBucket(bucket: string): string | null {
  const digits = [...bucket];
  for (let i = digits.length - 1; i >= 0; i--) {
    const value = ALPHABET.indexOf(digits[i]!);
    if (value < 0) return null;
    if (value < ALPHABET.length - 1) {
      digits[i] = ALPHABET[value + 1]!;
      return digits.join('');
    }
    digits[i] = ALPHABET[0]!;
  }
  return null;
}

export interface BucketCount {
  bucket: string;
  /** Requests the bucket holds under the filter's tenant and signal (an estimate: only sizes windows). */
  requests: number;
}

/** Where the next buckets start: at this bucket (inclusive) or right after it in listing order. */
export interface BucketStart {
  bucket: string;
  inclusive: boolean;
}

export interface WindowSource<Row extends { id: string }> {
  /**
   * Buckets that may hold matching rows, in listing order, from `start` (from the first when null); at most `max`,
   * possibly fewer while more follow; none once there are no more.
   */
  buckets(start: BucketStart | null, max: number): Promise<BucketCount[]>;
  /**
   * Rows matching the filter within the ranges (given in listing order, disjoint), past `afterId` in listing order,
   * in listing order, at most `limit`.
   */
  rows(ranges: readonly IdRange[], afterId: string | undefined, limit: number): Promise<Row[]>;
}

export interface WindowListing {
  newestFirst: boolean;
  afterId?: string;
  limit: number;
}

/** Buckets asked for at a time. */
const MAX_BUCKETS = 256;
/** A window is sized to hold this many times the rows still wanted (a little over: fewer round trips). */
const OVERSHOOT = 1.5;
const MIN_SELECTIVITY = 1e-5;
/**
 * A bucket expected to yield more than this many times the rows wanted, and more than SPLIT_MIN_ROWS, is read in
 * 32ths (then 1024ths): reading ~100 k ids costs 18.16 ~10 ms, a busy server's bucket holds millions.
 */
const SPLIT_ABOVE = 16;
const SPLIT_MIN_ROWS = 400_000;
const MAX_SPLIT_DEPTH = 2;

/** Ranges for consecutive buckets, neighbours merged (one range reads better than many). */
export function rangesOf(buckets: readonly string[], newestFirst: boolean): IdRange[] {
  const ascending = newestFirst ? [...buckets].reverse() : [...buckets];
  const merged: IdRange[] = [];
  let last: string | null = null;
  for (const bucket of ascending) {
    const range = bucketRange(bucket);
    const previous = merged[merged.length - 1];
    if (previous && last !== null && nextBucket(last) === bucket) previous.to = range.to;
    else merged.push(range);
    last = bucket;
  }
  return newestFirst ? merged.reverse() : merged;
}

/** A bucket or a slice of one (a longer id prefix), with its share of the bucket's rows. */
interface Piece {
  prefix: string;
  requests: number;
  /** The bucket it belongs to. */
  bucket: string;
}

/** One bucket's pieces in listing order: itself, or its 32ths (recursively) when it would hold far more than wanted. */
function piecesOf(candidate: BucketCount, wantedRows: number, selectivity: number, newestFirst: boolean): Piece[] {
  let pieces: Piece[] = [{ prefix: candidate.bucket, requests: candidate.requests, bucket: candidate.bucket }];
  for (let depth = 0; depth < MAX_SPLIT_DEPTH; depth++) {
    const first = pieces[0]!;
    if (first.requests * selectivity <= wantedRows * SPLIT_ABOVE || first.requests <= SPLIT_MIN_ROWS) break;
    const order = newestFirst ? [...ALPHABET].reverse() : [...ALPHABET];
    // Only the first piece is split further: the listing reads pieces in order and usually stops inside it.
    pieces = [...order.map((c) => ({ prefix: first.prefix + c, requests: first.requests / ALPHABET.length, bucket: first.bucket })), ...pieces.slice(1)];
  }
  return pieces;
}

/** Whether a piece lies wholly before the cursor in listing order (nothing in it can be listed). */
function passed(piece: Piece, afterId: string | undefined, newestFirst: boolean): boolean {
  if (afterId === undefined) return false;
  const range = bucketRange(piece.prefix);
  return newestFirst ? range.from >= afterId : range.to <= afterId;
}

/** One page of a listing read window by window (see the header). */
export async function listInWindows<Row extends { id: string }>(source: WindowSource<Row>, listing: WindowListing): Promise<Row[]> {
  const { newestFirst, limit } = listing;
  const out: Row[] = [];
  let afterId = listing.afterId;
  let start: BucketStart | null = afterId === undefined ? null : { bucket: bucketOf(afterId), inclusive: true };
  let selectivity = 1;
  // Slices of a bucket are sized as if its rows were spread evenly; they are not (the first bucket of the data is
  // mostly empty, traffic has quiet minutes), so each slice read that comes back short takes 4 times as much next.
  let grow = 1;
  const queue: Piece[] = [];
  while (out.length < limit) {
    const wanted = limit - out.length;
    if (queue.length === 0) {
      // Fewer than asked does not mean the last ones (a source may answer a window at a time): until none come back.
      const candidates = await source.buckets(start, MAX_BUCKETS);
      if (candidates.length === 0) break;
      for (const candidate of candidates) queue.push({ prefix: candidate.bucket, requests: candidate.requests, bucket: candidate.bucket });
      start = { bucket: candidates[candidates.length - 1]!.bucket, inclusive: false };
    }
    // Split the next bucket when it alone would hold far more than wanted.
    const head = queue[0]!;
    if (head.prefix === head.bucket) queue.splice(0, 1, ...piecesOf({ bucket: head.bucket, requests: head.requests }, wanted, selectivity, newestFirst));
    while (queue.length > 0 && passed(queue[0]!, afterId, newestFirst)) queue.shift();
    if (queue.length === 0) continue;
    const taken: Piece[] = [];
    let expected = 0;
    let held = 0;
    while (queue.length > 0) {
      const piece = queue[0]!;
      // Pieces of one length only per read (ranges of whole buckets merge; slices stay apart).
      if (taken.length > 0 && piece.prefix.length !== taken[0]!.prefix.length) break;
      taken.push(queue.shift()!);
      held += piece.requests;
      expected += piece.requests * selectivity;
      if (expected >= wanted * OVERSHOOT * grow) break;
    }
    const rows = await source.rows(rangesOf(taken.map((p) => p.prefix), newestFirst), afterId, wanted);
    out.push(...rows);
    if (rows.length >= wanted) break;
    const slices = taken[0]!.prefix.length > BUCKET_CHARS;
    grow = slices && rows.length < expected / 2 ? grow * 4 : 1;
    // Every row of the taken pieces past the cursor has been seen: continue after the last of them.
    const range = bucketRange(taken[taken.length - 1]!.prefix);
    afterId = newestFirst ? range.from : range.to;
    // Learnt from whole buckets only: a slice's share of its bucket is a guess (rows are not spread evenly: the first
    // bucket of the data is mostly empty), and an empty slice says nothing about the filter.
    if (taken[0]!.prefix.length === BUCKET_CHARS && held > 0) {
      selectivity = Math.max(MIN_SELECTIVITY, Math.max(rows.length, 1) / held / (rows.length === 0 ? 8 : 1));
    }
  }
  return out;
}
