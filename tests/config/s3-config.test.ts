// storage.s3 from YAML and S3_* environment variables: defaults, the switch to the s3 adapter, and messages that
// name the setting without quoting secrets.
import { describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createBlobStore } from '../../src/app/components.js';
import { loadConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors.js';
import { S3BlobStore } from '../../src/storage/s3-blob-store.js';
import type { BlobStore } from '../../src/storage/blob-store.js';

const MiB = 2 ** 20;

function withFile(yaml: string, run: (file: string) => void): void {
  const dir = mkdtempSync(path.join(os.tmpdir(), 's3-config-'));
  try {
    const file = path.join(dir, 'config.yaml');
    writeFileSync(file, yaml);
    run(file);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function configError(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('storage.s3 configuration', () => {
  it('has defaults and leaves the filesystem adapter in place when nothing selects S3', () => {
    const config = loadConfig({ env: {} });
    expect(config.storage.type).toBe('filesystem');
    expect(config.storage.s3).toEqual({
      region: 'us-east-1',
      prefix: '',
      forcePathStyle: false,
      partSize: 8 * MiB,
      uploadQueueSize: 4,
      checksums: 'when_supported',
      connectTimeout: 5000,
      idleTimeout: 30000,
    });
  });

  it('S3_* variables fill storage.s3 and S3_BUCKET selects the s3 adapter', async () => {
    const config = loadConfig({
      env: {
        S3_ENDPOINT: 'http://127.0.0.1:9000',
        S3_BUCKET: 'captures',
        S3_REGION: 'eu-west-1',
        S3_ACCESS_KEY: 'AKIAEXAMPLE',
        S3_SECRET_KEY: 'the-secret',
        S3_FORCE_PATH_STYLE: 'true',
        S3_CHECKSUMS: 'WHEN_REQUIRED',
      },
    });
    expect(config.storage.type).toBe('s3');
    expect(config.storage.s3).toMatchObject({
      endpoint: 'http://127.0.0.1:9000',
      bucket: 'captures',
      region: 'eu-west-1',
      accessKeyId: 'AKIAEXAMPLE',
      secretAccessKey: 'the-secret',
      forcePathStyle: true,
      checksums: 'when_required',
    });
    const store = await createBlobStore(config);
    expect(store).toBeInstanceOf(S3BlobStore);
    expect(store.describe()).toBe('s3://captures/ at http://127.0.0.1:9000');
    expect(store.describe()).not.toContain('the-secret');
  });

  it('reads every setting from YAML, and environment variables override the file', async () => {
    const yaml = [
      'storage:',
      '  type: s3',
      '  s3:',
      '    bucket: from-file',
      '    prefix: otlp/archive',
      '    storageClass: STANDARD_IA',
      '    serverSideEncryption: aws:kms',
      '    kmsKeyId: arn:aws:kms:eu-west-1:1:key/abc',
      '    partSize: 16MiB',
      '    uploadQueueSize: 2',
      '    connectTimeout: 2s',
      '    idleTimeout: 1m',
      '',
    ].join('\n');
    let store: Promise<BlobStore> | undefined;
    withFile(yaml, (file) => {
      const config = loadConfig({ file, env: { S3_BUCKET: 'from-env' } });
      expect(config.storage.s3).toMatchObject({
        bucket: 'from-env',
        prefix: 'otlp/archive',
        storageClass: 'STANDARD_IA',
        serverSideEncryption: 'aws:kms',
        kmsKeyId: 'arn:aws:kms:eu-west-1:1:key/abc',
        partSize: 16 * MiB,
        uploadQueueSize: 2,
        connectTimeout: 2000,
        idleTimeout: 60_000,
      });
      store = createBlobStore(config);
    });
    expect((await store!).describe()).toBe('s3://from-env/otlp/archive/ at AWS S3 (us-east-1)');
  });

  it('names what is wrong, and where it came from, without quoting secrets', () => {
    expect(configError(() => loadConfig({ env: {}, overrides: { 'storage.type': 's3' } }))).toMatch(
      /storage\.s3\.bucket: required when storage\.type is s3 \(or set S3_BUCKET\)/,
    );
    expect(configError(() => loadConfig({ env: { S3_BUCKET: 'b', S3_CHECKSUMS: 'sometimes' } }))).toMatch(
      /storage\.s3\.checksums \(from S3_CHECKSUMS\)/,
    );
    expect(configError(() => loadConfig({ env: { S3_BUCKET: 'b', S3_FORCE_PATH_STYLE: 'yes please' } }))).toMatch(
      /storage\.s3\.forcePathStyle \(from S3_FORCE_PATH_STYLE\): expected true or false/,
    );
    expect(configError(() => loadConfig({ env: { S3_BUCKET: 'b', S3_ENDPOINT: 'not a url' } }))).toMatch(
      /storage\.s3\.endpoint \(from S3_ENDPOINT\): expected a URL/,
    );
    const secretOnly = configError(() => loadConfig({ env: { S3_BUCKET: 'b', S3_SECRET_KEY: 'hush-hush' } }));
    expect(secretOnly).toMatch(/storage\.s3\.accessKeyId: set accessKeyId and secretAccessKey together/);
    expect(secretOnly).not.toContain('hush-hush');
    expect(configError(() => loadConfig({ env: { S3_BUCKET: 'b' }, overrides: { 'storage.s3.partSize': '4MiB' } }))).toMatch(
      /storage\.s3\.partSize \(from the command line\): must be at least 5MiB/,
    );
    expect(configError(() => loadConfig({ env: { S3_BUCKET: 'b' }, overrides: { 'storage.s3.storageClass': 'GLACIER' } }))).toMatch(
      /storage\.s3\.storageClass/,
    );
    expect(configError(() => loadConfig({ env: { S3_BUCKET: 'b' }, overrides: { 'storage.s3.kmsKeyId': 'k' } }))).toMatch(
      /storage\.s3\.kmsKeyId \(from the command line\): only applies with serverSideEncryption: aws:kms/,
    );
    expect(configError(() => loadConfig({ env: { S3_BUCKET: 'b' }, overrides: { 'storage.s3.prefix': 'a/../b' } }))).toMatch(
      /storage\.s3\.prefix \(from the command line\): expected a key prefix such as otlp\/archive/,
    );
  });
});
