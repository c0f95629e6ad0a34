// The `retention` section of the configuration: how often serve runs retention, how much at once, and the policies.
// Validated with zod like every other section (schema.ts embeds `retentionSchema`); what can only be judged
// against the rest of the configuration (blob store type, archiver codec) is checked by checkRetentionConfig().
import { z } from 'zod';
import { isValidTenant } from '../admission/tenant.js';
import { DEFAULT_LEVEL } from '../archiver/codec.js';
import { durationField, fitsTimer, given, sizeField, TIMER_LIMIT_MESSAGE } from '../config/unit-fields.js';
import { ConfigError } from '../errors.js';
import { SIGNALS, type Codec } from '../model.js';

const DURATION_EXPECTED = 'expected a duration such as 7d, 12h or 90m';

const duration = durationField(DURATION_EXPECTED);
const bytes = sizeField();

/** Codecs a compress action may ask for, weakest first (`none` does not compress). */
export const COMPRESS_CODECS = ['gzip', 'zstd', 'brotli'] as const;
export type CompressCodec = (typeof COMPRESS_CODECS)[number];
/** Levels a compress action may ask for; the default is the strongest, since the point is cold storage. */
export const COMPRESS_LEVELS: Readonly<Record<CompressCodec, readonly [min: number, max: number, fallback: number]>> = {
  gzip: [1, 9, 9],
  zstd: [1, 22, 19],
  brotli: [1, 11, 11],
};

/**
 * none < gzip < zstd < brotli: a codec "stronger" than another compresses telemetry smaller at their strong levels
 * (bench on SDK spans: gzip 9 0.214, zstd 19 0.169, brotli 9 0.180 and brotli 11 smaller still). zstd's cheap
 * levels compress less than gzip's strong ones, so a compress action from gzip to zstd names a level that pays.
 */
export function codecRank(codec: Codec): number {
  return { none: 0, gzip: 1, zstd: 2, brotli: 3 }[codec];
}

const policyName = z
  .string({ error: 'required: a policy name (1-63 of A-Z a-z 0-9 . _ -)' })
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, 'expected 1-63 characters of A-Z a-z 0-9 . _ - starting with a letter or digit');

const match = z
  .object({
    signal: z.enum(SIGNALS, { error: `expected one of ${SIGNALS.join(', ')}` }).optional(),
    service: z.string().min(1).optional(),
    tenant: z.string().refine(isValidTenant, 'expected a tenant name (1-63 of A-Z a-z 0-9 . _ -)').optional(),
    olderThan: duration.refine((ms) => ms > 0, 'must be more than 0'),
    minSize: bytes.optional(),
  }, { error: 'required: a match with at least olderThan, e.g. { signal: traces, olderThan: 7d }' })
  .strict();

const deleteAction = z.object({ type: z.literal('delete') }).strict();
const archiveAction = z
  .object({
    type: z.literal('archive'),
    /** S3: another bucket (default: the store's own). */
    bucket: z.string().min(1).optional(),
    /** S3: key prefix in the archive bucket (default `<store prefix>_archive/`). */
    prefix: z.string().min(1).optional(),
    /** S3: storage class of the archived copy, e.g. GLACIER_IR. */
    storageClass: z.string().min(1).optional(),
    /** Filesystem: an absolute directory outside the blob store's. */
    dir: z.string().min(1).optional(),
  })
  .strict();
const compressAction = z
  .object({
    type: z.literal('compress'),
    codec: z.enum(COMPRESS_CODECS, { error: 'expected gzip, zstd or brotli (a codec that compresses)' }),
    level: z.number().int().optional(),
  })
  .strict()
  .transform((action, ctx) => {
    const [min, max, fallback] = COMPRESS_LEVELS[action.codec];
    const level = action.level ?? fallback;
    if (level < min || level > max) {
      ctx.addIssue({ code: 'custom', path: ['level'], message: `${action.codec} levels are ${min} to ${max}, got ${level}` });
      return z.NEVER;
    }
    return { type: action.type, codec: action.codec, level };
  });

const dedupAction = z
  .object({
    type: z.literal('dedup'),
    /**
     * How far apart (receipt time) two identical requests may be for the later one to be dropped; default the
     * configured dedup.window, the window reads collapse retries in (retentionSection fills it in).
     */
    window: duration.refine((ms) => ms > 0, 'must be more than 0 (a window of 0 finds no duplicates)').optional(),
  })
  .strict();

const action = z.discriminatedUnion('type', [deleteAction, archiveAction, compressAction, dedupAction], {
  error: (issue) => `expected an action with type delete, archive, compress or dedup, got ${given(issue.input)}`,
});

const policy = z
  .object({ name: policyName, match, action: action.optional() })
  .strict()
  .transform((value, ctx) => {
    if (value.action === undefined) {
      ctx.addIssue({ code: 'custom', path: ['action'], message: 'required: an action, e.g. { type: delete }' });
      return z.NEVER;
    }
    return { ...value, action: value.action };
  });

export const retentionSchema = z
  .object({
    /** How often serve runs retention. */
    interval: duration.refine((ms) => ms >= 100, 'must be at least 100ms').refine(fitsTimer, TIMER_LIMIT_MESSAGE).default(3_600_000),
    /** Objects read from the index per page. */
    batchSize: z.number().int().min(1).max(10_000).default(100),
    /** Objects worked on at once. */
    concurrency: z.number().int().min(1).max(256).default(10),
    /** How long a run's lease lasts without renewal: a crashed run on another host blocks others this long. */
    leaseTtl: duration.refine((ms) => ms >= 1000, 'must be at least 1s').refine(fitsTimer, TIMER_LIMIT_MESSAGE).default(5 * 60_000),
    /**
     * How long a run waits after writing its lease before reading it back: two runs starting together both see the
     * one written last, so only one goes on, as long as each write is visible within this time.
     */
    leaseSettle: duration.refine((ms) => ms >= 10 && ms <= 60_000, 'must be between 10ms and 1m').default(1000),
    policies: z.array(policy).default([]),
  })
  .strict()
  .superRefine((value, ctx) => {
    if (value.leaseSettle * 2 > value.leaseTtl) {
      ctx.addIssue({ code: 'custom', path: ['leaseSettle'], message: `must be at most half of leaseTtl (${value.leaseTtl} ms): the lease would lapse while it settles` });
    }
    const seen = new Map<string, number>();
    value.policies.forEach((p, i) => {
      const first = seen.get(p.name);
      if (first !== undefined) {
        ctx.addIssue({ code: 'custom', path: ['policies', i, 'name'], message: `duplicate policy name "${p.name}" (also policies.${first})` });
      } else seen.set(p.name, i);
    });
  });

export type RetentionConfig = z.output<typeof retentionSchema>;
export type RetentionPolicy = RetentionConfig['policies'][number];
export type RetentionAction = RetentionPolicy['action'];
export type CompressAction = Extract<RetentionAction, { type: 'compress' }>;
export type ArchiveAction = Extract<RetentionAction, { type: 'archive' }>;
export type DedupAction = Extract<RetentionAction, { type: 'dedup' }>;

/** The parts of the full configuration that decide whether the retention section can be used. */
export interface RetentionContext {
  storageType: 'filesystem' | 's3';
  archiverCodec: Codec;
  archiverLevel?: number | undefined;
  /** dedup.window (ms; 0 = reads do not collapse duplicates); the config's default when not given. */
  dedupWindowMs?: number | undefined;
}

/** dedup.window's default (config/schema.ts), for contexts that do not name one. */
export const DEFAULT_DEDUP_WINDOW_MS = 15 * 60_000;

/**
 * Checks what zod cannot see from the section alone: archive targets that suit the configured blob store, and
 * compress actions that are stronger than what the archiver writes (else they would grow objects or do nothing).
 * Throws one ConfigError listing every problem. Dedup actions need deduplication on (dedup.window more than 0).
 */
export function checkRetentionConfig(retention: RetentionConfig, context: RetentionContext): void {
  const problems: string[] = [];
  retention.policies.forEach((p, i) => {
    const at = `retention.policies.${i} (${p.name}).action`;
    const a = p.action;
    if (a.type === 'archive') {
      const s3Fields = (['bucket', 'prefix', 'storageClass'] as const).filter((k) => a[k] !== undefined);
      if (context.storageType === 'filesystem') {
        if (s3Fields.length > 0) problems.push(`${at}: ${s3Fields.join(', ')} are for the S3 blob store; the filesystem store archives to a dir`);
        if (a.dir === undefined) problems.push(`${at}: dir is required with the filesystem blob store (an absolute directory outside the data directory)`);
      } else if (a.dir !== undefined) {
        problems.push(`${at}: dir is for the filesystem blob store; on S3 use bucket, prefix and/or storageClass`);
      }
    }
    if (a.type === 'dedup' && (context.dedupWindowMs ?? DEFAULT_DEDUP_WINDOW_MS) === 0) {
      // Reads would then show every copy as its own request: dropping copies would change what they show.
      problems.push(`${at}: dedup needs deduplication on (dedup.window is 0, so reads show every copy); set dedup.window or remove this policy`);
    }
    if (a.type === 'compress') {
      const archiverLevel = context.archiverLevel ?? DEFAULT_LEVEL[context.archiverCodec];
      const rank = codecRank(a.codec);
      const archiverRank = codecRank(context.archiverCodec);
      if (rank < archiverRank || (rank === archiverRank && a.level <= archiverLevel)) {
        problems.push(
          `${at}: ${a.codec} level ${a.level} is not stronger than what the archiver writes (${context.archiverCodec} level ` +
            `${archiverLevel}): use a stronger codec or a higher level`,
        );
      }
    }
  });
  if (problems.length > 0) throw new ConfigError(`invalid retention configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
}

/** The section with every dedup action's window set: its own, else dedup.window (what a run then uses). */
export function withDedupWindows(retention: RetentionConfig, dedupWindowMs: number): RetentionConfig {
  return {
    ...retention,
    policies: retention.policies.map((p) => (p.action.type === 'dedup' ? { ...p, action: { ...p.action, window: p.action.window ?? dedupWindowMs } } : p)),
  };
}

/** The window a dedup action runs with; unset only when the section did not come through retentionSection. */
export function dedupWindowOf(action: DedupAction): number {
  if (action.window === undefined) throw new ConfigError('a dedup action has no window: retentionSection() sets it from dedup.window');
  return action.window;
}
