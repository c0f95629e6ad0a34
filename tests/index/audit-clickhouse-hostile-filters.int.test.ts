// Hostile strings through the read paths the other suites leave out, on both engines (Debian's 18.16 and a current
// ClickHouse behind the chdb shim), answered by ClickHouse alone (a reader without the outbox): twin lookups and
// duplicate counts (dedup), counts by service, find-trace by tenant. Each value is a tenant, a service and a
// fingerprint at once, beside near misses ('' and '\N', ' and '', \ and \\, a and a<NUL>…): every filter matches its
// own rows exactly and nothing else — including the empty service name, which has() over the current dialect's
// Array(LowCardinality(String)) never finds. A lone surrogate cannot be written as UTF-8: as a filter it is refused on every
// path with InvalidArgumentError, and the server keeps answering.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { InvalidArgumentError } from '../../src/errors.js';
import { ClickHouseIndexStore } from '../../src/index/clickhouse-index-store.js';
import type { ArchivedRequest } from '../../src/model.js';
import { CLICKHOUSE_ENGINES } from '../helpers/chdb-server.js';
import type { ClickHouseServer } from '../helpers/clickhouse-server.js';
import { makeObject } from './index-store-contract.js';

const HOSTILE = [
  '',
  '\\N',
  'N',
  "'",
  "''",
  '\\',
  '\\\\',
  'a',
  'a\0',
  'a\0b',
  'tab\there',
  'line\nfeed',
  'cr\r',
  '\\t',
  "x' OR '1'='1",
  '%_*',
  '\x01\x7f\x1b',
  'Grüße 👍🏽 \ufffd',
];
const WINDOW_MS = 60_000;
const fingerprintOf = (value: string): string => `f${value}`;
const TRACE = 'abcdefabcdefabcdefabcdefabcdef01';

describe.each(CLICKHOUSE_ENGINES)('$name', (engine) => {
  let server: ClickHouseServer;
  let dir: string;
  let reader: ClickHouseIndexStore;
  const database = 'hostile_filters';
  const byValue = new Map<string, ArchivedRequest[]>();

  beforeAll(async () => {
    server = await engine.start();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ch-hostile-'));
    const writer = new ClickHouseIndexStore({ url: server.url, database, outboxPath: path.join(dir, 'outbox.sqlite'), batchIntervalMs: 3_600_000 });
    await writer.start();
    for (const value of HOSTILE) {
      // Two requests with the same fingerprint, received together: twins, one of them a duplicate. ('' is "no
      // fingerprint", hence the prefix.)
      const { object, requests } = makeObject(value, 'traces', [{ services: [value] }, { services: [value, 'other'] }]);
      const rows = requests.map((r) => ({ ...r, fingerprint: fingerprintOf(value), traceIds: [TRACE] }));
      byValue.set(value, rows);
      await writer.commitObject(object, rows);
    }
    await writer.close(); // flushes every row to ClickHouse
    reader = new ClickHouseIndexStore({ url: server.url, database, readonly: true, outboxPath: path.join(dir, 'absent.sqlite') });
    await reader.start();
  }, 120_000);

  afterAll(async () => {
    await reader?.close();
    await server?.dispose();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('every filter matches exactly its own rows: twins, duplicates, counts by service, traces by tenant', async () => {
    for (const value of HOSTILE) {
      const own = byValue.get(value)!.map((r) => r.id).sort();
      const label = JSON.stringify(value);
      const twins = await reader.findTwins([{ tenant: value, signal: 'traces', fingerprint: fingerprintOf(value), fromId: '0', toId: '~' }]);
      expect([label, twins.map((t) => t.id).sort()]).toEqual([label, own]);
      expect([label, twins.every((t) => t.tenant === value && t.fingerprint === fingerprintOf(value))]).toEqual([label, true]);
      expect([label, await reader.countDuplicates({ tenant: value }, WINDOW_MS)]).toEqual([label, 1]);
      expect([label, await reader.countDuplicates({ service: value }, WINDOW_MS)]).toEqual([label, 1]);
      expect([label, await reader.countRequests({ service: value })]).toEqual([label, 2]);
      // With a data-time window the count reads the services column itself (has()), not the by-service copy.
      expect([label, await reader.countRequests({ service: value, sinceNs: 0n })]).toEqual([label, 2]);
      expect([label, await reader.countRequests({ tenant: value, sinceNs: 0n })]).toEqual([label, 2]);
      const traced = await reader.findTraceRequests(TRACE, { tenant: value });
      expect([label, traced.map((r) => r.id).sort()]).toEqual([label, own]);
      expect([label, traced.map((r) => r.services[0])]).toEqual([label, [value, value]]);
    }
    expect(await reader.countDuplicates({}, WINDOW_MS)).toBe(HOSTILE.length);
    expect((await reader.findTraceRequests(TRACE)).length).toBe(HOSTILE.length * 2);
  }, 60_000);

  it('a lone surrogate as a filter is refused on every path with InvalidArgumentError; the index keeps answering', async () => {
    const lone = 'svc-\ud800';
    const attempts: (() => Promise<unknown>)[] = [
      () => reader.listRequests({ service: lone }),
      () => reader.listRequests({ tenant: lone }),
      () => reader.countRequests({ service: lone }),
      () => reader.countDuplicates({ tenant: lone }, WINDOW_MS),
      () => reader.findTwins([{ tenant: 't', signal: 'traces', fingerprint: lone, fromId: '0', toId: '~' }]),
      () => reader.findTraceRequests(TRACE, { tenant: lone }),
      () => reader.listObjects({ tenant: lone }),
    ];
    for (const attempt of attempts) await expect(attempt()).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(await reader.countRequests({ service: 'a' })).toBe(2);
  });
});
