import path from 'node:path';
import { parseDestination } from '../../src/export/destination.js';
import { outputCodec } from '../../src/export/output-codec.js';
import { InvalidArgumentError } from '../../src/errors.js';

describe('parseDestination', () => {
  it('takes s3://bucket/prefix apart, with the prefix normalized', () => {
    expect(parseDestination('s3://my-bucket/exports/otlp/')).toEqual({ kind: 's3', bucket: 'my-bucket', prefix: 'exports/otlp/' });
    expect(parseDestination('s3://my-bucket')).toEqual({ kind: 's3', bucket: 'my-bucket', prefix: '' });
    expect(parseDestination('S3://my-bucket/a')).toEqual({ kind: 's3', bucket: 'my-bucket', prefix: 'a/' });
  });

  it('resolves a directory against the working directory', () => {
    expect(parseDestination('out/x', '/work')).toEqual({ kind: 'directory', dir: path.resolve('/work/out/x') });
    expect(parseDestination('/abs/dir', '/work')).toEqual({ kind: 'directory', dir: '/abs/dir' });
  });

  it.each([
    ['', /must name a directory/],
    ['s3:///x', /is not an S3 bucket name/],
    ['s3://UPPER/x', /is not an S3 bucket name/],
    ['s3://bucket/a/../b', /"\.\." segment/],
    ['gs://bucket/x', /only local directories and s3:\/\/ destinations/],
  ])('refuses %j', (to, message) => {
    expect(() => parseDestination(to)).toThrow(InvalidArgumentError);
    expect(() => parseDestination(to)).toThrow(message);
  });
});

describe('outputCodec', () => {
  it('knows none, gzip and zstd, and says why an unknown name is not available', () => {
    expect(outputCodec('gzip')).toMatchObject({ name: 'gzip', extension: '.gz' });
    expect(outputCodec('none')).toMatchObject({ name: 'none', extension: '' });
    expect(outputCodec('zstd')).toMatchObject({ name: 'zstd', extension: '.zst' });
    expect(outputCodec('lz4')).toMatch(/unknown compression "lz4"; use none, gzip, zstd/);
  });
});
