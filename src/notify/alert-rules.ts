// The operational conditions `serve` watches. Each rule looks at one snapshot of the running server and says
// whether its condition holds now, and in words what is wrong; the scheduler turns that into alerts and all-clears.
import type { Priority } from './notifier.js';
import { formatBytes, formatDuration } from '../util/human-units.js';
import { escapeMrkdwn, truncate } from './slack-format.js';

export interface AlertSnapshot {
  nowMs: number;
  spool: { bytesOnDisk: number; maxBytes: number; unreleasedRecords: number; oldestUnreleasedAgeMs: number };
  msSinceLastCommit: number;
  /** Failed archive attempts so far, by stage (monotonic counters). */
  archiveFailures: Record<string, number>;
  /** Rejected requests so far, by reason (monotonic counters). */
  rejections: Record<string, number>;
  /** Why archiving counts as stalled (Archiver.health), or null. */
  archiverStalled: string | null;
  /** Moved to the spool quarantine so far (monotonic counters since the process started). */
  quarantined: { corruptRecords: number; corruptBytes: number; archiverRecords: number };
}

export interface AlertThresholds {
  /** Spool fill, in percent of spool.maxBytes, at which to alert. */
  spoolPercent: number;
  /** Alert when archive uploads or index writes have failed, with no success since, for this long. */
  uploadFailingForMs: number;
  /** Alert when data has waited this long with no index commit. */
  indexLagMs: number;
  /** Alert when at least this many requests were rejected within one check interval. */
  rejectedPerInterval: number;
}

export interface Firing {
  priority: Priority;
  /** Plain text, one line. */
  title: string;
  /** Slack mrkdwn. */
  text: string;
}

export interface AlertRule {
  /** Stable; part of the dedup key. */
  readonly id: string;
  /** The condition now: what is wrong, or null when it is fine. */
  evaluate(snapshot: AlertSnapshot): Firing | null;
  /** The all-clear, in words, when the condition has just cleared. */
  resolvedText(snapshot: AlertSnapshot): string;
}

/** Once firing, the spool alert clears only this many points below the threshold, so it does not flap. */
const SPOOL_HYSTERESIS_POINTS = 5;
const SPOOL_CRITICAL_PERCENT = 95;

export class SpoolFillRule implements AlertRule {
  readonly id = 'spool-full';
  private firing = false;

  constructor(private readonly thresholdPercent: number) {}

  evaluate({ spool }: AlertSnapshot): Firing | null {
    const percent = spoolPercent(spool);
    const clearBelow = Math.max(0, this.thresholdPercent - SPOOL_HYSTERESIS_POINTS);
    this.firing = this.firing ? percent >= clearBelow : percent >= this.thresholdPercent;
    if (!this.firing) return null;
    const critical = percent >= Math.max(SPOOL_CRITICAL_PERCENT, this.thresholdPercent);
    return {
      priority: critical ? 'critical' : 'high',
      title: `Spool ${Math.floor(percent)}% full`,
      text:
        `The spool holds ${formatBytes(spool.bytesOnDisk)} of its ${formatBytes(spool.maxBytes)} ` +
        `(alert at ${this.thresholdPercent}%); ${spool.unreleasedRecords} requests wait to be archived, the oldest for ` +
        `${formatDuration(spool.oldestUnreleasedAgeMs)}. When it is full, exports are refused with UNAVAILABLE ` +
        '(Collectors retry) and `/readyz` fails above 90%. Check the blob store and index, or raise `spool.maxBytes`.',
    };
  }

  resolvedText({ spool }: AlertSnapshot): string {
    return `The spool is back to ${Math.floor(spoolPercent(spool))}% (${formatBytes(spool.bytesOnDisk)} of ${formatBytes(spool.maxBytes)}).`;
  }
}

export class UploadFailingRule implements AlertRule {
  readonly id = 'uploads-failing';
  private lastFailures: number | null = null;
  private failingSinceMs: number | null = null;
  private failuresSince = 0;

  constructor(private readonly forMs: number) {}

  evaluate(snapshot: AlertSnapshot): Firing | null {
    const total = sum(snapshot.archiveFailures);
    const newFailures = this.lastFailures === null ? 0 : Math.max(0, total - this.lastFailures);
    this.lastFailures = total;
    const lastCommitAtMs = snapshot.nowMs - snapshot.msSinceLastCommit;
    if (newFailures > 0) {
      // Seen now; they happened since the last check, so this never overstates how long it has been failing.
      this.failingSinceMs ??= snapshot.nowMs;
      this.failuresSince += newFailures;
    } else if (this.failingSinceMs !== null && lastCommitAtMs > this.failingSinceMs) {
      this.failingSinceMs = null;
      this.failuresSince = 0;
    }
    if (this.failingSinceMs === null) return null;
    const failingMs = snapshot.nowMs - this.failingSinceMs;
    if (failingMs < this.forMs) return null;
    const stages = Object.entries(snapshot.archiveFailures)
      .filter(([, count]) => count > 0)
      .map(([stage, count]) => `${escapeMrkdwn(stage)}: ${count}`)
      .join(', ');
    return {
      priority: 'high',
      title: `Archive uploads failing for ${formatDuration(failingMs)}`,
      text:
        `Uploads to the blob store or index writes have failed for ${formatDuration(failingMs)} with no object archived ` +
        `since (${this.failuresSince} failed attempts; all time by stage: ${stages || 'none'}). They are retried and the ` +
        `data stays in the spool, which is ${Math.floor(spoolPercent(snapshot.spool))}% full. ` +
        'Check the blob store and index (credentials, network, disk).',
    };
  }

  resolvedText(snapshot: AlertSnapshot): string {
    return `Objects are being archived again (last index commit ${formatDuration(snapshot.msSinceLastCommit)} ago).`;
  }
}

export class IndexLagRule implements AlertRule {
  readonly id = 'index-lag';

  constructor(private readonly lagMs: number) {}

  evaluate({ spool, msSinceLastCommit }: AlertSnapshot): Firing | null {
    if (spool.unreleasedRecords === 0) return null;
    // Waiting data that arrived after a long quiet spell has not lagged for the whole spell.
    const lag = Math.min(msSinceLastCommit, spool.oldestUnreleasedAgeMs);
    if (lag < this.lagMs) return null;
    return {
      priority: 'high',
      title: `Index lagging by ${formatDuration(lag)}`,
      text:
        `No archive object has been committed to the index for ${formatDuration(msSinceLastCommit)} while ` +
        `${spool.unreleasedRecords} requests wait in the spool (the oldest for ${formatDuration(spool.oldestUnreleasedAgeMs)}; ` +
        `alert at ${formatDuration(this.lagMs)}). Captured data is not yet findable with list/get.`,
    };
  }

  resolvedText({ msSinceLastCommit }: AlertSnapshot): string {
    return `The index is catching up (last commit ${formatDuration(msSinceLastCommit)} ago).`;
  }
}

export class RejectionsRule implements AlertRule {
  readonly id = 'data-rejected';
  private last: Record<string, number> | null = null;

  constructor(private readonly threshold: number) {}

  evaluate({ rejections }: AlertSnapshot): Firing | null {
    const previous = this.last;
    this.last = { ...rejections };
    // The first look only sets the baseline: rejections before it belong to no interval we watched.
    if (previous === null) return null;
    const delta = Object.entries(rejections)
      .map(([reason, count]) => [reason, count - (previous[reason] ?? 0)] as const)
      .filter(([, count]) => count > 0)
      .sort((a, b) => b[1] - a[1]);
    const total = delta.reduce((acc, [, count]) => acc + count, 0);
    if (total < this.threshold) return null;
    return {
      priority: 'high',
      title: `${total} requests rejected`,
      text:
        `${total} export requests were rejected since the last check (alert at ${this.threshold}). By reason: ` +
        delta.map(([reason, count]) => `${escapeMrkdwn(reason)} ${count}`).join(', ') +
        '. See `otlpcapture_requests_rejected_total` and the server log.',
    };
  }

  resolvedText(): string {
    return `Rejections are below ${this.threshold} per check interval again.`;
  }
}

/**
 * The archiver's reason ends with its last error, which can be a whole ClickHouse or S3 answer (tens of KB). Cut
 * before escaping, so what the alert says after it (how full the spool is, what to check) stays in Slack's first
 * section and in the 40,000-character text, and no escape (`&lt;`) is cut in half.
 */
const STALLED_REASON_CHARS = 1_000;

export class ArchiverStalledRule implements AlertRule {
  readonly id = 'archiver-stalled';

  evaluate({ archiverStalled, spool }: AlertSnapshot): Firing | null {
    if (archiverStalled === null) return null;
    return {
      priority: 'critical',
      title: 'Archiving stalled',
      text:
        `${escapeMrkdwn(truncate(archiverStalled.replace(/\s+/g, ' '), STALLED_REASON_CHARS))}. ${spool.unreleasedRecords} requests wait in the spool ` +
        `(${Math.floor(spoolPercent(spool))}% full); \`/readyz\` fails until archiving catches up. Check the blob store ` +
        'and index, and the server log for the archiver\'s errors.',
    };
  }

  resolvedText({ msSinceLastCommit }: AlertSnapshot): string {
    return `Archiving is making progress again (last index commit ${formatDuration(msSinceLastCommit)} ago).`;
  }
}

/** Damaged spool data moved to quarantine since the last check (one alert per check interval with any). */
export class QuarantineRule implements AlertRule {
  readonly id = 'data-quarantined';
  /** From zero: damage found at start-up, before the first check, is reported too. */
  private last = { corruptRecords: 0, corruptBytes: 0, archiverRecords: 0 };

  evaluate({ quarantined }: AlertSnapshot): Firing | null {
    const previous = this.last;
    this.last = { ...quarantined };
    const corrupt = quarantined.corruptRecords - previous.corruptRecords;
    const bytes = quarantined.corruptBytes - previous.corruptBytes;
    const given = quarantined.archiverRecords - previous.archiverRecords;
    if (corrupt <= 0 && given <= 0) return null;
    const parts = [
      ...(corrupt > 0 ? [`${corrupt} damaged spool records or ranges (${formatBytes(bytes)}) were found on disk`] : []),
      ...(given > 0 ? [`the archiver gave up on ${given} spooled requests it could not archive`] : []),
    ];
    return {
      priority: 'high',
      title: `Spool data quarantined (${corrupt + given})`,
      // Slack reads a raw `<…>` as a link even inside a code span (it showed "spool.dir" as a link), so escape it.
      text:
        `${parts.join('; ')}. Their bytes are in \`&lt;spool.dir&gt;/quarantine/\`, each with a JSON file saying which ` +
        'segment, offset and request and why; every intact request was archived. Check the disk (SMART, dmesg). ' +
        'See `otlpcapture_spool_corrupt_records_total` and `otlpcapture_archiver_quarantined_records_total`.',
    };
  }

  resolvedText(): string {
    return 'No more spool data was quarantined since the last check.';
  }
}

function spoolPercent(spool: AlertSnapshot['spool']): number {
  return spool.maxBytes > 0 ? (100 * spool.bytesOnDisk) / spool.maxBytes : 0;
}

function sum(counts: Record<string, number>): number {
  return Object.values(counts).reduce((acc, count) => acc + count, 0);
}
