// The AWS SDK is loaded through require(), not import: its CommonJS build loads in ~120 ms where its ES-module build
// takes ~280 ms (hundreds of small files through the ESM loader) — most of a CLI command's start-up on S3.
// Types still come from the packages' own declarations.
import { createRequire } from 'node:module';
import type * as ClientS3 from '@aws-sdk/client-s3';
import type * as LibStorage from '@aws-sdk/lib-storage';

const requireCjs = createRequire(import.meta.url);

export const s3Sdk = requireCjs('@aws-sdk/client-s3') as typeof ClientS3;

let storage: typeof LibStorage | undefined;

/** lib-storage (multipart Upload) on the first write only: read-only commands never pay its ~90 ms. */
export function libStorage(): typeof LibStorage {
  storage ??= requireCjs('@aws-sdk/lib-storage') as typeof LibStorage;
  return storage;
}
