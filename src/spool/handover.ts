// Payloads just made durable, kept for the tail so that an archiver that keeps up takes the ingest buffer itself
// instead of reading every record back from disk (a fresh buffer, a read and a CRC pass per request). Bounded in
// bytes: when the archiver lags, new records are not kept and the tail reads them back from the segment as before.
// Only memory changes hands here; the records are on disk either way and are released by the archiver as always.
import type { IngestNotes, RequestMeta } from '../model.js';

export interface HandedOver {
  meta: RequestMeta;
  payload: Buffer;
  payloadCrc: number;
  /** Length of the whole framed record, to check it against the segment's ledger. */
  length: number;
  notes?: IngestNotes;
}

export class Handover {
  private readonly entries = new Map<string, HandedOver>();
  private held = 0;
  private taken = 0;

  constructor(private readonly limitBytes: number) {}

  /** Keeps a durable record's payload for the tail, if there is room. */
  offer(segment: number, offset: number, entry: HandedOver): void {
    const bytes = heldBytes(entry);
    if (this.held + bytes > this.limitBytes) return;
    this.entries.set(key(segment, offset), entry);
    this.held += bytes;
  }

  /** The payload of the record at this place, if kept; it is no longer held here afterwards. */
  take(segment: number, offset: number): HandedOver | undefined {
    const k = key(segment, offset);
    const entry = this.entries.get(k);
    if (entry === undefined) return undefined;
    this.entries.delete(k);
    this.held -= heldBytes(entry);
    this.taken += 1;
    return entry;
  }

  /** Forgets the record at this place (the tail went past it without needing the payload). */
  drop(segment: number, offset: number): void {
    const k = key(segment, offset);
    const entry = this.entries.get(k);
    if (entry === undefined) return;
    this.entries.delete(k);
    this.held -= heldBytes(entry);
  }

  clear(): void {
    this.entries.clear();
    this.held = 0;
  }

  get bytesHeld(): number {
    return this.held;
  }

  /** Records the tail took from here rather than from disk. */
  get handedOver(): number {
    return this.taken;
  }
}

function key(segment: number, offset: number): string {
  return `${segment}:${offset}`;
}

const heldBytes = (entry: HandedOver): number => entry.payload.length + (entry.notes?.wire?.bytes.length ?? 0);
