import { describe, expect, test } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors.js';
import { checkRetentionConfig, retentionSchema } from '../../src/retention/retention-config.js';
import { checkArchiveTargets, retentionSection } from '../../src/retention/retention-setup.js';
import { FsBlobStore } from '../../src/storage/fs-blob-store.js';

function loadYaml(yaml: string) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'retention-config-'));
  try {
    const file = path.join(dir, 'config.yaml');
    writeFileSync(file, yaml);
    return loadConfig({ file, env: {}, cwd: dir });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function errorOf(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('expected an error');
}

describe('retention configuration', () => {
  test('absent section: nothing runs', () => {
    const config = loadYaml('log:\n  level: silent\n');
    expect(config.retention).toBeUndefined();
    expect(retentionSection(config)).toBeNull();
  });

  test('the issue example parses with defaults for everything else', () => {
    const config = loadYaml(
      'retention:\n  interval: 1h\n  policies:\n    - name: old-traces\n      match: { signal: traces, olderThan: 7d }\n      action: { type: delete }\n',
    );
    expect(config.retention).toEqual({
      interval: 3_600_000,
      batchSize: 100,
      concurrency: 10,
      leaseTtl: 300_000,
      leaseSettle: 1000,
      policies: [{ name: 'old-traces', match: { signal: 'traces', olderThan: 7 * 86_400_000 }, action: { type: 'delete' } }],
    });
  });

  test('leaseSettle parses as a duration and must leave the lease most of its ttl', () => {
    expect(retentionSchema.parse({ leaseSettle: '50ms' }).leaseSettle).toBe(50);
    expect(() => retentionSchema.parse({ leaseSettle: '5ms' })).toThrow(/between 10ms and 1m/);
    expect(() => retentionSchema.parse({ leaseTtl: '2s', leaseSettle: '1500ms' })).toThrow(/at most half of leaseTtl/);
  });

  test('compress gets the strongest level of its codec by default; sizes parse', () => {
    const parsed = retentionSchema.parse({
      policies: [{ name: 'shrink', match: { olderThan: '2d', minSize: '1MiB' }, action: { type: 'compress', codec: 'brotli' } }],
    });
    expect(parsed.policies[0]).toEqual({
      name: 'shrink',
      match: { olderThan: 2 * 86_400_000, minSize: 2 ** 20 },
      action: { type: 'compress', codec: 'brotli', level: 11 },
    });
  });

  test('clear messages: duplicate names, unknown action, bad duration, bad level, weak codec, unknown keys', () => {
    const message = errorOf(() =>
      loadYaml(
        [
          'retention:',
          '  policies:',
          '    - { name: a, match: { olderThan: 1d }, action: { type: delete } }',
          '    - { name: a, match: { olderThan: 1d }, action: { type: delete } }',
          '    - { name: b, match: { olderThan: soon }, action: { type: delete } }',
          '    - { name: c, match: { olderThan: 1d }, action: { type: shred } }',
          '    - { name: d, match: { olderThan: 1d }, action: { type: compress, codec: gzip, level: 12 } }',
          '    - { name: e, match: { olderThan: 1d }, action: { type: compress, codec: none } }',
          '    - { name: f, match: { olderThan: 1d, colour: red }, action: { type: delete } }',
          '    - { name: g, match: { signal: spans, olderThan: 1d }, action: { type: delete } }',
        ].join('\n'),
      ),
    );
    // Cross-entry checks run once every entry is valid on its own.
    expect(errorOf(() => loadYaml(
      'retention:\n  policies:\n    - { name: a, match: { olderThan: 1d }, action: { type: delete } }\n    - { name: a, match: { olderThan: 2d }, action: { type: delete } }\n',
    ))).toContain('retention.policies.1.name: duplicate policy name "a" (also policies.0)');
    expect(message).toContain('retention.policies.2.match.olderThan: expected a duration such as 7d, 12h or 90m, got "soon"');
    expect(message).toContain('retention.policies.3.action.type: expected an action with type delete, archive, compress or dedup');
    expect(message).toContain('retention.policies.4.action.level: gzip levels are 1 to 9, got 12');
    expect(message).toContain('retention.policies.5.action.codec: expected gzip, zstd or brotli');
    expect(message).toContain('retention.policies.6.match: unknown key(s) "colour"');
    expect(message).toContain('retention.policies.7.match.signal: expected one of traces, metrics, logs');
    expect(() => retentionSchema.parse({ policies: [{ name: 'x', action: { type: 'delete' } }] })).toThrow('required: a match with at least olderThan');
    expect(() => retentionSchema.parse({ policies: [{ name: 'x', match: {} }] })).toThrow('expected a duration such as 7d, 12h or 90m, got nothing');
    expect(() => retentionSchema.parse({ policies: [{ name: 'x', match: { olderThan: '1d' } }] })).toThrow('required: an action, e.g. { type: delete }');
  });

  test('a compress action must be stronger than what the archiver writes', () => {
    const retention = retentionSchema.parse({
      policies: [
        { name: 'same', match: { olderThan: '1d' }, action: { type: 'compress', codec: 'gzip', level: 1 } },
        { name: 'weaker', match: { olderThan: '1d' }, action: { type: 'compress', codec: 'gzip', level: 9 } },
        { name: 'fine', match: { olderThan: '1d' }, action: { type: 'compress', codec: 'brotli', level: 11 } },
      ],
    });
    const gzipArchiver = errorOf(() => checkRetentionConfig(retention, { storageType: 'filesystem', archiverCodec: 'gzip' }));
    expect(gzipArchiver).toContain('policies.0 (same).action: gzip level 1 is not stronger than what the archiver writes (gzip level 1)');
    expect(gzipArchiver).not.toContain('(weaker)');
    expect(gzipArchiver).not.toContain('(fine)');
    const brotliArchiver = errorOf(() => checkRetentionConfig(retention, { storageType: 'filesystem', archiverCodec: 'brotli' }));
    expect(brotliArchiver).toContain('(weaker).action: gzip level 9 is not stronger than what the archiver writes (brotli level 5)');
    expect(brotliArchiver).not.toContain('(fine)');
  });

  test('archive targets must suit the configured blob store', () => {
    const retention = retentionSchema.parse({
      policies: [
        { name: 's3-on-fs', match: { olderThan: '1d' }, action: { type: 'archive', bucket: 'cold' } },
        { name: 'fs-no-dir', match: { olderThan: '1d' }, action: { type: 'archive' } },
      ],
    });
    const fs = errorOf(() => checkRetentionConfig(retention, { storageType: 'filesystem', archiverCodec: 'gzip' }));
    expect(fs).toContain('(s3-on-fs).action: bucket are for the S3 blob store');
    expect(fs).toContain('(fs-no-dir).action: dir is required with the filesystem blob store');
    const onS3 = retentionSchema.parse({ policies: [{ name: 'dir-on-s3', match: { olderThan: '1d' }, action: { type: 'archive', dir: '/cold' } }] });
    expect(errorOf(() => checkRetentionConfig(onS3, { storageType: 's3', archiverCodec: 'gzip' }))).toContain('dir is for the filesystem blob store');
    expect(() => checkRetentionConfig(retentionSchema.parse({ policies: [{ name: 'ok', match: { olderThan: '1d' }, action: { type: 'archive' } }] }), { storageType: 's3', archiverCodec: 'gzip' })).not.toThrow();
  });

  test('the blob store refuses an archive dir inside its own directory, with the policy named', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'retention-target-'));
    try {
      const blobs = new FsBlobStore(path.join(dir, 'objects'));
      const inside = retentionSchema.parse({ policies: [{ name: 'inside', match: { olderThan: '1d' }, action: { type: 'archive', dir: path.join(dir, 'objects', 'cold') } }] });
      expect(() => checkArchiveTargets(inside, blobs)).toThrow(ConfigError);
      expect(errorOf(() => checkArchiveTargets(inside, blobs))).toMatch(/policies\.0 \(inside\)\.action: archive dir .* must be outside the blob store directory/);
      const outside = retentionSchema.parse({ policies: [{ name: 'outside', match: { olderThan: '1d' }, action: { type: 'archive', dir: path.join(dir, 'cold') } }] });
      expect(() => checkArchiveTargets(outside, blobs)).not.toThrow();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('dedup: the window defaults to dedup.window, may be set, never 0; dedup off refuses the action', () => {
    const policy = (action: string) => `retention:\n  policies:\n    - { name: copies, match: { olderThan: 7d }, action: ${action} }\n`;
    const defaulted = loadYaml(policy('{ type: dedup }'));
    expect(defaulted.retention?.policies[0]?.action).toEqual({ type: 'dedup' });
    expect(retentionSection(defaulted)?.policies[0]?.action).toEqual({ type: 'dedup', window: 15 * 60_000 });
    const widerReads = loadYaml(`dedup:\n  window: 1h\n${policy('{ type: dedup }')}`);
    expect(retentionSection(widerReads)?.policies[0]?.action).toEqual({ type: 'dedup', window: 3_600_000 });
    const own = loadYaml(`dedup:\n  window: 1h\n${policy('{ type: dedup, window: 5m }')}`);
    expect(retentionSection(own)?.policies[0]?.action).toEqual({ type: 'dedup', window: 300_000 });

    expect(errorOf(() => loadYaml(policy('{ type: dedup, window: 0s }')))).toContain('retention.policies.0.action.window: must be more than 0');
    expect(errorOf(() => loadYaml(policy('{ type: dedup, window: soon }')))).toContain('retention.policies.0.action.window: expected a duration');
    expect(errorOf(() => loadYaml(policy('{ type: dedup, codec: gzip }')))).toContain('unknown key(s) "codec"');
    const off = loadYaml(`dedup:\n  window: 0s\n${policy('{ type: dedup, window: 10m }')}`);
    expect(() => retentionSection(off)).toThrow(ConfigError);
    expect(errorOf(() => retentionSection(off))).toContain('retention.policies.0 (copies).action: dedup needs deduplication on (dedup.window is 0');
    const parsed = retentionSchema.parse({ policies: [{ name: 'copies', match: { olderThan: '1d' }, action: { type: 'dedup' } }] });
    expect(errorOf(() => checkRetentionConfig(parsed, { storageType: 'filesystem', archiverCodec: 'gzip', dedupWindowMs: 0 }))).toContain('dedup needs deduplication on');
    expect(() => checkRetentionConfig(parsed, { storageType: 'filesystem', archiverCodec: 'gzip' })).not.toThrow();
  });
});
