// The retention section of a loaded configuration, checked against the rest of it and against the blob store that
// will hold the archives: every problem a run could only find half-way is reported before it starts.
import type { ResolvedConfig } from '../config/load.js';
import { ConfigError, OtlpCaptureError } from '../errors.js';
import type { BlobStore } from '../storage/blob-store.js';
import { checkRetentionConfig, withDedupWindows, type RetentionConfig } from './retention-config.js';

/** The section, checked, dedup windows filled in; null when the configuration has none (then retention never runs). */
export function retentionSection(config: ResolvedConfig): RetentionConfig | null {
  const retention = config.retention;
  if (retention === undefined) return null;
  checkRetentionConfig(retention, {
    storageType: config.storage.type,
    archiverCodec: config.archiver.codec,
    archiverLevel: config.archiver.level,
    dedupWindowMs: config.dedup.window,
  });
  return withDedupWindows(retention, config.dedup.window);
}

/** Asks the blob store whether it can archive to each archive policy's target (no I/O). */
export function checkArchiveTargets(retention: RetentionConfig, blobs: BlobStore): void {
  const problems: string[] = [];
  retention.policies.forEach((policy, i) => {
    if (policy.action.type !== 'archive') return;
    const { type: _type, ...target } = policy.action;
    try {
      blobs.archiveKey('tenant/traces/probe.otlpc', target);
    } catch (error) {
      if (!(error instanceof OtlpCaptureError)) throw error;
      problems.push(`retention.policies.${i} (${policy.name}).action: ${error.message}`);
    }
  });
  if (problems.length > 0) {
    throw new ConfigError(`invalid retention configuration for ${blobs.describe()}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}
