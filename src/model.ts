// The vocabulary shared by every stage of the data path. Plain data only: no behaviour, no adapters.

export const SIGNALS = ['traces', 'metrics', 'logs'] as const;
export type Signal = (typeof SIGNALS)[number];

export function isSignal(value: string): value is Signal {
  return (SIGNALS as readonly string[]).includes(value);
}

/** How one request's block is compressed inside an archive object. */
export const CODECS = ['none', 'gzip', 'brotli', 'zstd'] as const;
export type Codec = (typeof CODECS)[number];

/** What the wire scanner learns about one OTLP request without decoding it. */
export interface ScanResult {
  /** Spans, data points or log records. */
  items: number;
  /** Distinct `service.name` resource attribute values, sorted. */
  services: string[];
  /** Earliest and latest timestamp in the data (unix ns); null when the data carries none. */
  startNs: bigint | null;
  endNs: bigint | null;
  /** Distinct trace ids (lowercase hex) of spans, span links excluded; of log records and exemplars that carry one. */
  traceIds: string[];
}

/** Everything known about an acknowledged request before it is archived. Travels with it through spool and archiver. */
export interface RequestMeta {
  /** ULID: unique, sorts by receive time. */
  id: string;
  tenant: string;
  signal: Signal;
  receivedAtMs: number;
  items: number;
  services: string[];
  /** Data time range (unix ns); the receive time when the data carries no timestamp. */
  startNs: bigint;
  endNs: bigint;
  /** Length of the request as the client sent it, after transport decompression. */
  rawBytes: number;
  /** xxh64 of the raw (uncompressed) request bytes, 16 lowercase hex digits (src/util/fingerprint.ts); absent on requests captured before fingerprints. */
  fingerprint?: string;
}

/** Where an archived request lives: enough to read it back with one range read. */
export interface RequestLocation {
  objectKey: string;
  /** Byte offset and length of the request's stored (compressed) block payload within the object. */
  offset: number;
  length: number;
  codec: Codec;
  /** CRC-32 of the raw (uncompressed) request bytes. */
  crc32: number;
}

export type ArchivedRequest = RequestMeta &
  RequestLocation & {
    /**
     * Distinct trace ids (lowercase hex) of the request's spans, for the trace index. Set by the archiver on the way
     * to IndexStore.commitObject (traces only); never set on what an index returns.
     */
    traceIds?: string[];
    /**
     * Where a read found it: 'hot' = acknowledged, not yet in a sealed and indexed object (read from the spool, its
     * location fields name the spool record); 'archive' or unset = from the index.
     */
    tier?: Tier;
  };

export type Tier = 'hot' | 'archive';

/** One archive object: a sealed, immutable blob holding many requests of one (tenant, signal). */
export interface ObjectMeta {
  key: string;
  tenant: string;
  signal: Signal;
  createdAtMs: number;
  sealedAtMs: number;
  requestCount: number;
  /** Sum of the requests' raw lengths. */
  rawBytes: number;
  /** Size of the object as stored, header and footer included. */
  storedBytes: number;
  codec: Codec;
  startNs: bigint;
  endNs: bigint;
}

/** Filters shared by every read path (CLI, CaptureService, replay). */
export interface RequestFilter {
  signal?: Signal;
  service?: string;
  tenant?: string;
  /** Requests whose data time range overlaps [sinceNs, untilNs]. */
  sinceNs?: bigint;
  untilNs?: bigint;
  /**
   * Keyset paging: only requests past this id in the listing's order — greater ids oldest first, smaller ids newest
   * first (ids sort by receive time). People and APIs see it wrapped in an opaque cursor (src/query/request-cursor.ts).
   */
  afterId?: string;
  /** Newest (highest id) first; oldest first when unset. */
  newestFirst?: boolean;
  limit?: number;
}

/**
 * What ingest learned of a request that the archiver can use instead of working it out again, when it takes the
 * payload straight from the spool's handover (never written to disk; a record read back from the spool has none).
 */
export interface IngestNotes {
  /** Distinct span trace ids (trace requests), as ingest's scan found them. */
  traceIds?: readonly string[];
  /** The body as the client compressed it (gzip, zstd), which may be stored as the request's block as it is. */
  wire?: WireBody;
}

/** A request body as it arrived, before content decoding. */
export interface WireBody {
  /** The content coding the client named (grpc-encoding or Content-Encoding). */
  encoding: string;
  /** The body exactly as it arrived. */
  bytes: Buffer;
}
