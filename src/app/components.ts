// Builds the adapters that config asks for, behind their ports. The only place that knows which adapter runs.
import type { ResolvedConfig } from '../config/load.js';
import { SqliteIndexStore } from '../index/sqlite-index-store.js';
import type { IndexStore } from '../index/index-store.js';
import type { BlobStore } from '../storage/blob-store.js';
import { FsBlobStore } from '../storage/fs-blob-store.js';

export function createBlobStore(config: ResolvedConfig): BlobStore {
  switch (config.storage.type) {
    case 'filesystem':
      return new FsBlobStore(config.storage.filesystem.dir);
  }
}

export function createIndexStore(config: ResolvedConfig, options: { readonly: boolean }): IndexStore {
  switch (config.index.type) {
    case 'sqlite':
      return new SqliteIndexStore(config.index.sqlite.path, { readonly: options.readonly });
  }
}
