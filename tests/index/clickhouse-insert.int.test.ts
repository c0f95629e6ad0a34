// The TabSeparated insert path (clickhouse-tsv.ts via ClickHouseConnection.insert) on both engines it must work on —
// Debian's ClickHouse 18.16 and a current ClickHouse (chdb behind scripts/chdb-http-server.mjs): hostile values go in
// through the writer's real flush and come back equal through the adapter's own queries; 64-bit extremes stay
// exact; a batch spanning many streamed chunks arrives whole; a value that does not fit fails the whole insert with
// a typed error and sends nothing.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { InvalidArgumentError } from '../../src/errors.js';
import { ClickHouseConnection } from '../../src/index/clickhouse-connection.js';
import { ClickHouseIndexStore } from '../../src/index/clickhouse-index-store.js';
import { ROWS_PER_CHUNK, type InsertColumns } from '../../src/index/clickhouse-tsv.js';
import type { ArchivedRequest, ObjectMeta } from '../../src/model.js';
import { CLICKHOUSE_ENGINES } from '../helpers/chdb-server.js';
import type { ClickHouseServer } from '../helpers/clickhouse-server.js';
import { makeObject } from './index-store-contract.js';

const HOSTILE = [
  'tab\there',
  'line\nfeed',
  'carriage\rreturn\r\n',
  'back\\slash\\',
  '\\N',
  '\\t (a backslash and a t, not a tab)',
  "quote ' and '' and \\'",
  "','",
  "['a','b']",
  'nul \0 inside',
  '\x01\x1b[31m\x1f\x7f',
  'Grüße 日本語 عربى 👍🏽 e\u0301',
  's'.repeat(1000),
  ' leading and trailing spaces ',
];

const INT64_MAX = 2n ** 63n - 1n;
const INT64_MIN = -(2n ** 63n);

describe.each(CLICKHOUSE_ENGINES)('$name', (engine) => {
  let server: ClickHouseServer;
  let dir: string;

  beforeAll(async () => {
    server = await engine.start();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ch-insert-'));
  }, 120_000);

  afterAll(async () => {
    await server?.dispose();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('round-trips hostile strings, empty and odd services, and 64-bit extremes through the writer and reads', async () => {
    const database = 'tsv_roundtrip';
    const writer = new ClickHouseIndexStore({ url: server.url, database, outboxPath: path.join(dir, 'outbox.sqlite'), batchIntervalMs: 3_600_000 });
    await writer.start();
    const traceId = 'ffffffffffffffff0000000000000001';
    const built: { object: ObjectMeta; requests: ArchivedRequest[] }[] = HOSTILE.map((text, i) => {
      const { object, requests } = makeObject(`tenant-${i}`, 'traces', [
        { services: [text, 'plain'] },
        { services: [] },
        { services: ['', text, ''] },
        { startNs: INT64_MIN, endNs: INT64_MAX },
      ]);
      const key = `${object.key}/${text}`;
      return {
        object: { ...object, key, rawBytes: Number.MAX_SAFE_INTEGER, storedBytes: 0, startNs: INT64_MIN, endNs: INT64_MAX },
        requests: requests.map((r, j) => ({
          ...r,
          id: j === 0 ? `${r.id}${text}` : r.id,
          objectKey: key,
          fingerprint: j === 0 ? text : j === 1 ? '0123456789abcdef' : undefined,
          rawBytes: Number.MAX_SAFE_INTEGER,
          offset: j === 3 ? Number.MAX_SAFE_INTEGER - 1 : r.offset,
          crc32: j === 3 ? 0xffffffff : 0,
          traceIds: [traceId],
        })),
      };
    });
    for (const { object, requests } of built) await writer.commitObject(object, requests);
    await writer.close(); // flushes the outbox: one batch, every table through the TSV insert

    const reader = new ClickHouseIndexStore({ url: server.url, database, readonly: true, outboxPath: path.join(dir, 'absent.sqlite') });
    await reader.start();
    try {
      const all = built.flatMap((b) => b.requests);
      const withoutTraces = (r: ArchivedRequest): ArchivedRequest => ({ ...r, traceIds: undefined });
      const plain = (rs: readonly ArchivedRequest[]): unknown => JSON.parse(JSON.stringify(rs.map(withoutTraces), (_, v) => (typeof v === 'bigint' ? `${v}n` : v)));
      expect(plain(await reader.listRequests({ limit: 1000 }))).toEqual(plain([...all].sort((a, b) => (a.id < b.id ? -1 : 1))));
      for (const [i, text] of HOSTILE.entries()) {
        const { object, requests } = built[i]!;
        const got = await reader.getRequest(requests[0]!.id);
        expect(got?.services).toEqual([text, 'plain']);
        expect(got?.fingerprint).toBe(text);
        expect((await reader.getRequest(requests[1]!.id))?.services).toEqual([]);
        expect((await reader.getRequest(requests[2]!.id))?.services).toEqual(['', text, '']);
        const extremes = await reader.getRequest(requests[3]!.id);
        expect([extremes?.startNs, extremes?.endNs, extremes?.rawBytes, extremes?.offset, extremes?.crc32]).toEqual([
          INT64_MIN,
          INT64_MAX,
          Number.MAX_SAFE_INTEGER,
          Number.MAX_SAFE_INTEGER - 1,
          0xffffffff,
        ]);
        expect((await reader.listRequests({ service: text })).map((r) => r.id)).toEqual([requests[0]!.id, requests[2]!.id]);
        expect(await reader.getObject(object.key)).toEqual(object);
      }
      // The empty service is a service too (request_services got one row per element).
      expect(await reader.countRequests({ service: '' })).toBe(HOSTILE.length);
      // Trace rows went in the same batch.
      expect((await reader.findTraceRequests(traceId)).length).toBe(all.length);
    } finally {
      await reader.close();
      await server.command(`DROP DATABASE IF EXISTS ${database}`);
    }
  }, 120_000);

  describe('ClickHouseConnection.insert', () => {
    const columns: InsertColumns = [
      ['n', 'int'],
      ['u', 'int'],
      ['i', 'int'],
      ['s', 'string'],
      ['a', 'strings'],
    ];
    let connection: ClickHouseConnection;

    beforeAll(async () => {
      connection = new ClickHouseConnection({ url: server.url });
      await server.command('CREATE DATABASE IF NOT EXISTS tsv_conn');
      await server.command('CREATE TABLE IF NOT EXISTS tsv_conn.t (n UInt32, u UInt64, i Int64, s String, a Array(String)) ENGINE = MergeTree ORDER BY n');
    });

    afterAll(async () => {
      await connection?.close();
      await server?.command('DROP DATABASE IF EXISTS tsv_conn');
    });

    it('keeps UInt64 and Int64 extremes exact, and fills what a row lacks with the default', async () => {
      await server.command('TRUNCATE TABLE tsv_conn.t');
      await connection.insert('tsv_conn.t', columns, [
        { n: 1, u: '18446744073709551615', i: '-9223372036854775808', s: 'a', a: HOSTILE },
        { n: 2, u: 2n ** 64n - 2n, i: INT64_MAX, s: HOSTILE[0], a: [] },
        { n: 3 },
      ]);
      const rows = await server.query('SELECT n, toString(u) AS u, toString(i) AS i, s, a FROM tsv_conn.t ORDER BY n');
      expect(rows).toEqual([
        { n: 1, u: '18446744073709551615', i: '-9223372036854775808', s: 'a', a: HOSTILE },
        { n: 2, u: '18446744073709551614', i: String(INT64_MAX), s: HOSTILE[0], a: [] },
        { n: 3, u: '0', i: '0', s: '', a: [] },
      ]);
    });

    it('streams a batch of many chunks whole, every row intact', async () => {
      await server.command('TRUNCATE TABLE tsv_conn.t');
      const count = ROWS_PER_CHUNK * 5 + 17;
      const rows = Array.from({ length: count }, (_, n) => ({ n, u: String(n), i: -n, s: HOSTILE[n % HOSTILE.length], a: [HOSTILE[(n + 1) % HOSTILE.length]!] }));
      await connection.insert('tsv_conn.t', columns, rows);
      const [summary] = await server.query<{ rows: string; bad: string }>(
        'SELECT toString(count()) AS rows, toString(countIf(toString(u) != toString(n) OR i != -toInt64(n))) AS bad FROM tsv_conn.t',
      );
      expect(summary).toEqual({ rows: String(count), bad: '0' });
      const sample = await server.query<{ n: number; s: string; a: string[] }>(`SELECT n, s, a FROM tsv_conn.t WHERE n IN (0, ${ROWS_PER_CHUNK - 1}, ${ROWS_PER_CHUNK}, ${count - 1}) ORDER BY n`);
      expect(sample).toEqual([0, ROWS_PER_CHUNK - 1, ROWS_PER_CHUNK, count - 1].map((n) => ({ n, s: HOSTILE[n % HOSTILE.length], a: [HOSTILE[(n + 1) % HOSTILE.length]] })));
    });

    it('fails a batch with a value its column cannot take as InvalidArgumentError, inserting none of it', async () => {
      await server.command('TRUNCATE TABLE tsv_conn.t');
      const rows = Array.from({ length: ROWS_PER_CHUNK * 2 }, (_, n) => ({ n, u: '1', i: '1', s: 'ok', a: [] as string[] }));
      rows.push({ n: 99_999, u: '1\t2', i: '1', s: 'bad', a: [] });
      await expect(connection.insert('tsv_conn.t', columns, rows)).rejects.toThrow(InvalidArgumentError);
      await expect(connection.insert('tsv_conn.t', columns, rows)).rejects.toThrow(/row 4000: column u/);
      const [count] = await server.query<{ n: string }>('SELECT toString(count()) AS n FROM tsv_conn.t');
      expect(count).toEqual({ n: '0' });
    });
  });
});
