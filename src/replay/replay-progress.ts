// What a replay reports while it runs and when it ends: the CLI draws it, CaptureService.Replay streams it.

export interface ReplayCounts {
  requests: number;
  /** Spans, data points or log records. */
  items: number;
  /** Request bytes (uncompressed protobuf, as archived). */
  bytes: number;
}

export interface ReplayProgress {
  /** What the selection holds. */
  total: ReplayCounts;
  /** What the target accepted. */
  sent: ReplayCounts;
  /** Attempts that were retried (one request may count several times). */
  retried: number;
  /** Requests that failed for good (at most a few: the replay stops at the first). */
  failed: number;
  /** Items the target accepted the request of but reported as rejected (partial success). */
  rejectedItems: number;
  elapsedMs: number;
  done: boolean;
}

export interface ReplayFailure {
  requestId: string;
  signal: string;
  /** For a person running the replay: may quote what the target answered. */
  reason: string;
  /** Set when the target refused the request: the gRPC status code of its last answer, and how many attempts it refused. */
  target?: { code: number; attempts: number };
}

export interface ReplaySummary extends ReplayProgress {
  dryRun: boolean;
  /** Nanoseconds added to every timestamp (0: bytes sent unchanged). */
  offsetNs: bigint;
  /** Earliest and latest data timestamp of the selection, before any shift; null when empty. */
  earliestNs: bigint | null;
  latestNs: bigint | null;
  /** The first request that failed for good, when one did. */
  failure: ReplayFailure | null;
  /** Rejected items' messages from partial success answers (the first few). */
  rejections: string[];
  /** Stopped from outside (Ctrl-C, a cancelled API call) before the end. */
  aborted: boolean;
  /** Everything selected was accepted by the target, nothing rejected: the only case that exits 0. */
  delivered: boolean;
}

export function emptyCounts(): ReplayCounts {
  return { requests: 0, items: 0, bytes: 0 };
}
