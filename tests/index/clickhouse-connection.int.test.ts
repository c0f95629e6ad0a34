// A ClickHouse connection whose server closes a kept-alive connection just as a request goes out on it (what a
// process paused past the server's keep-alive meets): reads and inserts are sent once more on a new connection and
// succeed, an insert stored twice (the answer lost) still reads back once; a server that keeps closing fails the call as unreachable.
// Between the client and Debian's ClickHouse 18.16 sits a small proxy that can hang up on the next request.
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ClickHouseConnection } from '../../src/index/clickhouse-connection.js';
import { startClickHouse, type ClickHouseServer } from '../helpers/clickhouse-server.js';

let clickhouse: ClickHouseServer;
let proxy: http.Server;
let proxyUrl: string;
/** Requests to hang up on (the socket destroyed without an answer) before forwarding again. */
let hangUps = 0;
/** Requests to forward and then hang up on instead of passing the answer back (ClickHouse did the work). */
let hangUpsAfter = 0;
let received = 0;

beforeAll(async () => {
  clickhouse = await startClickHouse();
  const target = new URL(clickhouse.url);
  proxy = http.createServer((request, response) => {
    received += 1;
    if (hangUps > 0) {
      hangUps -= 1;
      request.socket.destroy();
      return;
    }
    const upstream = http.request(
      { host: target.hostname, port: target.port, method: request.method, path: request.url, headers: request.headers },
      (answer) => {
        if (hangUpsAfter > 0) {
          hangUpsAfter -= 1;
          answer.resume();
          answer.on('end', () => request.socket.destroy());
          return;
        }
        response.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(response);
      },
    );
    request.pipe(upstream);
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
}, 120_000);

afterAll(async () => {
  proxy?.closeAllConnections();
  await new Promise((resolve) => proxy?.close(resolve));
  await clickhouse?.dispose();
});

it('a read whose connection is closed under it is sent again and answers', async () => {
  const connection = new ClickHouseConnection({ url: proxyUrl });
  try {
    expect(await connection.select<{ n: number }>('SELECT 1 AS n')).toEqual([{ n: 1 }]);
    hangUps = 1;
    received = 0;
    expect(await connection.select<{ n: number }>('SELECT 2 AS n')).toEqual([{ n: 2 }]);
    expect(received).toBe(2);
  } finally {
    await connection.close();
  }
});

it('an insert whose connection is closed under it is sent again; rows read back once', async () => {
  const connection = new ClickHouseConnection({ url: proxyUrl });
  try {
    await connection.command('CREATE TABLE IF NOT EXISTS resend_probe (id String, version UInt32) ENGINE = ReplacingMergeTree(version) ORDER BY id');
    hangUps = 1;
    received = 0;
    await connection.insert('resend_probe', [['id', 'string'], ['version', 'int']], [{ id: 'a', version: 1 }, { id: 'b', version: 1 }]);
    expect(received).toBe(2);
    const rows = await connection.select<{ id: string; version: number }>('SELECT id, argMax(version, version) AS version FROM resend_probe GROUP BY id ORDER BY id');
    expect(rows).toEqual([{ id: 'a', version: 1 }, { id: 'b', version: 1 }]);
    // Stored, but the answer lost: the resend stores the batch a second time, and reads still see each row once.
    hangUpsAfter = 1;
    received = 0;
    await connection.insert('resend_probe', [['id', 'string'], ['version', 'int']], [{ id: 'b', version: 2 }, { id: 'c', version: 1 }]);
    expect(received).toBe(2);
    expect(await connection.select('SELECT count() AS n FROM resend_probe WHERE id = \'c\'')).toEqual([{ n: '2' }]);
    const after = await connection.select<{ id: string; version: number }>('SELECT id, argMax(version, version) AS version FROM resend_probe GROUP BY id ORDER BY id');
    expect(after).toEqual([{ id: 'a', version: 1 }, { id: 'b', version: 2 }, { id: 'c', version: 1 }]);
  } finally {
    await connection.close();
  }
});

it('a server that closes the connection every time fails the read as unreachable, after one resend', async () => {
  const connection = new ClickHouseConnection({ url: proxyUrl });
  try {
    hangUps = 2;
    received = 0;
    const failure = await connection.select('SELECT 3').then(
      () => null,
      (error: unknown) => connection.describeFailure('probe', error),
    );
    expect(failure).toMatchObject({ kind: 'unreachable', message: expect.stringContaining('socket hang up') });
    expect(received).toBe(2);
  } finally {
    hangUps = 0;
    await connection.close();
  }
});
