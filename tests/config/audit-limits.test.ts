// Settings at their allowed extremes must not let the server acknowledge what it can never archive: a request larger
// than a spool record or an archive block addresses, more trace ids than one object's manifest lists, an object
// larger than an S3 multipart upload completes.
import { expect, test } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors.js';

function load(yaml: string) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'audit-limits-'));
  try {
    const file = path.join(dir, 'config.yaml');
    writeFileSync(file, yaml);
    return loadConfig({ env: {}, cwd: dir, file });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function refusal(yaml: string): string {
  try {
    load(yaml);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('expected a ConfigError');
}

test('a receive limit past 2GiB is refused on every listener; 2GiB itself is accepted', () => {
  expect(refusal('server:\n  grpc:\n    maxReceiveBytes: 5GiB\n')).toMatch(/server\.grpc\.maxReceiveBytes.*at most 2GiB/s);
  expect(refusal('server:\n  http:\n    maxReceiveBytes: 4GiB\n')).toMatch(/server\.http\.maxReceiveBytes.*at most 2GiB/s);
  expect(refusal('server:\n  api:\n    maxReceiveBytes: 3GiB\n')).toMatch(/server\.api\.maxReceiveBytes.*at most 2GiB/s);
  expect(load('server:\n  grpc:\n    maxReceiveBytes: 2GiB\n').server.grpc.maxReceiveBytes).toBe(2 ** 31);
});

test('admission.maxTraceIdsPerRequest is at most what one manifest can list', () => {
  expect(refusal('admission:\n  maxTraceIdsPerRequest: 100000000\n')).toMatch(/maxTraceIdsPerRequest.*at most 5000000/s);
  expect(load('admission:\n  maxTraceIdsPerRequest: 5000000\n').admission.maxTraceIdsPerRequest).toBe(5_000_000);
});

test('with S3, an object that could outgrow 10,000 parts of partSize is refused; the filesystem has no such limit', () => {
  const big = 'archiver:\n  maxObjectBytes: 100GiB\n';
  expect(refusal(`${big}storage:\n  type: s3\n  s3:\n    bucket: b\n`)).toMatch(/archiver\.maxObjectBytes.*10000 parts of storage\.s3\.partSize/s);
  expect(load(`${big}storage:\n  type: s3\n  s3:\n    bucket: b\n    partSize: 16MiB\n`).archiver.maxObjectBytes).toBe(100 * 2 ** 30);
  expect(load(big).archiver.maxObjectBytes).toBe(100 * 2 ** 30);
});

test('the JSON body limit and the S3 part size stay within what can be held and uploaded', () => {
  expect(refusal('server:\n  http:\n    maxJsonBytes: 3GiB\n')).toMatch(/server\.http\.maxJsonBytes.*at most 2GiB/s);
  expect(refusal('storage:\n  type: s3\n  s3:\n    bucket: b\n    partSize: 6GiB\n')).toMatch(/storage\.s3\.partSize.*at most 5GiB/s);
  expect(load('storage:\n  type: s3\n  s3:\n    bucket: b\n    partSize: 5GiB\n').storage.s3.partSize).toBe(5 * 2 ** 30);
});
