// Configuration of the ClickHouse index: YAML and CLICKHOUSE_* environment variables, and what the adapter is built
// from them. (Against a real server: clickhouse-index-store.int.test.ts and the CLI/e2e tests.)
import { describe, expect, it } from '@jest/globals';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createIndexStore } from '../../src/app/components.js';
import { loadConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors.js';

const cwd = os.tmpdir();

describe('index.clickhouse configuration', () => {
  it('defaults to SQLite; CLICKHOUSE_URL alone switches to ClickHouse with its defaults', () => {
    expect(loadConfig({ env: {}, cwd }).index.type).toBe('sqlite');
    const config = loadConfig({ env: { CLICKHOUSE_URL: 'http://ch.example:8123' }, cwd, overrides: { dataDir: '/var/lib/oc' } });
    expect(config.index.type).toBe('clickhouse');
    expect(config.index.clickhouse).toEqual({
      url: 'http://ch.example:8123',
      user: '',
      password: '',
      database: 'otlp_capture',
      batchRows: 1000,
      batchInterval: 1000,
      outboxPath: '/var/lib/oc/index-outbox.sqlite',
      outboxMaxBytes: 2 ** 30,
    });
  });

  it('takes user, password and database from the environment, over the file', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ch-config-'));
    try {
      const file = path.join(dir, 'config.yaml');
      fs.writeFileSync(
        file,
        'index:\n  type: sqlite\n  clickhouse: { url: "http://file:8123", database: from_file, batchRows: 5000, batchInterval: 250ms, outboxPath: ob.sqlite }\n',
      );
      expect(loadConfig({ file, env: {}, cwd: dir }).index).toMatchObject({
        type: 'sqlite',
        clickhouse: { url: 'http://file:8123', database: 'from_file', batchRows: 5000, batchInterval: 250, outboxPath: path.join(dir, 'ob.sqlite') },
      });
      const env = { CLICKHOUSE_URL: 'https://ch:8443', CLICKHOUSE_USER: 'writer', CLICKHOUSE_PASSWORD: 'pa55', CLICKHOUSE_DATABASE: 'prod' };
      expect(loadConfig({ file, env, cwd: dir }).index).toMatchObject({
        type: 'clickhouse',
        clickhouse: { url: 'https://ch:8443', user: 'writer', password: 'pa55', database: 'prod', batchRows: 5000 },
      });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('builds the ClickHouse adapter from it, and never shows the password', async () => {
    const config = loadConfig({
      env: { CLICKHOUSE_URL: 'http://ch:8123', CLICKHOUSE_PASSWORD: 'top-secret', CLICKHOUSE_DATABASE: 'db1' },
      cwd,
      overrides: { dataDir: '/data' },
    });
    const reader = await createIndexStore(config, { readonly: true });
    expect(reader.describe()).toBe('clickhouse http://ch:8123 database db1 (read-only), outbox /data/index-outbox.sqlite');
    const inUrl = loadConfig({ env: { CLICKHOUSE_URL: 'http://u:top-secret@ch:8123' }, cwd });
    expect((await createIndexStore(inUrl, { readonly: false })).describe()).not.toContain('top-secret');
    const clustered = loadConfig({ env: { CLICKHOUSE_URL: 'http://ch:8123', CLICKHOUSE_CLUSTER: 'capture_cluster' }, cwd, overrides: { dataDir: '/data' } });
    expect(clustered.index.clickhouse.cluster).toBe('capture_cluster');
    expect((await createIndexStore(clustered, { readonly: true })).describe()).toBe(
      'clickhouse http://ch:8123 database otlp_capture on cluster capture_cluster (read-only), outbox /data/index-outbox.sqlite',
    );
  });

  it('rejects a bad URL or database name, naming the variable', () => {
    const error = (env: NodeJS.ProcessEnv): string => {
      try {
        loadConfig({ env, cwd });
      } catch (e) {
        expect(e).toBeInstanceOf(ConfigError);
        return (e as Error).message;
      }
      throw new Error('expected a ConfigError');
    };
    expect(error({ CLICKHOUSE_URL: 'ch:8123' })).toMatch(/index\.clickhouse\.url \(from CLICKHOUSE_URL\): expected an http\(s\) URL/);
    expect(error({ CLICKHOUSE_URL: 'http://ch', CLICKHOUSE_DATABASE: 'x; DROP' })).toMatch(
      /index\.clickhouse\.database \(from CLICKHOUSE_DATABASE\)/,
    );
    expect(error({ CLICKHOUSE_URL: 'http://ch', CLICKHOUSE_CLUSTER: "c' ON CLUSTER x" })).toMatch(
      /index\.clickhouse\.cluster \(from CLICKHOUSE_CLUSTER\): expected a cluster name/,
    );
  });
});
