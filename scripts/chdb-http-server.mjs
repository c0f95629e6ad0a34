#!/usr/bin/env node
// A current ClickHouse engine (the `chdb` npm package, ClickHouse 26.x in-process) behind the part of ClickHouse's
// HTTP interface that @clickhouse/client uses, so otlp-capture's ClickHouse adapter runs unchanged against it in tests
// and benchmarks, beside Debian's 18.16 server. Loopback only; for tests and benchmarks, not for production.
//
//   node scripts/chdb-http-server.mjs [--port N] [--dir DIR] [--password P]
//
// Prints `ready http://127.0.0.1:PORT` on stdout once it listens (port 0 = a free one). Data lives in DIR (a new temp
// dir by default, removed on exit): stopping and starting on the same DIR keeps the tables, like a restarted server.
//
// What it speaks (checked against @clickhouse/client and Debian's 18.16 by tests/helpers/chdb-server.test.ts):
// - GET /ping → "Ok.\n"; GET or POST / with the query in the `query` URL parameter, the request body, or both
//   (the parameter first, then the body: how the client sends an INSERT with its rows);
// - credentials in X-ClickHouse-User / X-ClickHouse-Key or HTTP Basic; only `default`, with the configured password;
// - the `database` parameter (the current database of the query), `default_format`, `query_id`; other parameters are
//   settings and become the query's SETTINGS (only those chdb knows: an unknown one fails as on a server);
// - answers with X-ClickHouse-Query-Id, X-ClickHouse-Format, X-ClickHouse-Timezone, X-ClickHouse-Server-Display-Name
//   and X-ClickHouse-Summary; errors as ClickHouse words them — `Code: N. DB::Exception: … (NAME) (version V)` with
//   X-ClickHouse-Exception-Code and the HTTP status the server maps that code to.
// Queries run one at a time (one chdb connection per process), off the event loop.
import { randomUUID, timingSafeEqual } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Session } from 'chdb';

const { values: args } = parseArgs({
  options: { port: { type: 'string', default: '0' }, dir: { type: 'string' }, password: { type: 'string', default: '' } },
});
const temporary = args.dir === undefined;
const dir = args.dir ?? mkdtempSync(path.join(os.tmpdir(), 'chdb-http-'));
const session = new Session(dir, { connectionArgs: ['--async_load_databases=0'] });

const PARAMS_NOT_SETTINGS = new Set(['query', 'database', 'default_format', 'query_id', 'session_id', 'session_timeout', 'user', 'password', 'role']);
const AUTH_FAILED = 516;
// ClickHouse's HTTP handler maps exception codes to statuses; these are the ones a client of ours can meet.
const STATUS_BY_CODE = new Map([
  [194, 401], // REQUIRED_PASSWORD
  [192, 403], // UNKNOWN_USER
  [193, 403], // WRONG_PASSWORD
  [516, 403], // AUTHENTICATION_FAILED
  [6, 400], // CANNOT_PARSE_TEXT
  [26, 400], // CANNOT_PARSE_QUOTED_STRING
  [27, 400], // CANNOT_PARSE_INPUT_ASSERTION_FAILED
  [36, 400], // BAD_ARGUMENTS
  [42, 400], // NUMBER_OF_ARGUMENTS_DOESNT_MATCH
  [43, 400], // ILLEGAL_TYPE_OF_ARGUMENT
  [53, 400], // TYPE_MISMATCH
  [62, 400], // SYNTAX_ERROR
  [117, 400], // INCORRECT_DATA
  [46, 404], // UNKNOWN_FUNCTION
  [47, 404], // UNKNOWN_IDENTIFIER
  [50, 404], // UNKNOWN_TYPE
  [60, 404], // UNKNOWN_TABLE
  [73, 404], // UNKNOWN_FORMAT
  [81, 404], // UNKNOWN_DATABASE
  [115, 404], // UNKNOWN_SETTING
  [48, 501], // NOT_IMPLEMENTED
  [159, 408], // TIMEOUT_EXCEEDED
  [164, 403], // READONLY
]);

let version = 'unknown';
let queue = Promise.resolve();
let currentDatabase = 'default';

/** Runs one statement after the ones before it: chdb has one connection per process. */
function run(sql, database, format, insert) {
  const result = queue.then(async () => {
    if (database !== currentDatabase) {
      await session.queryAsync(`USE ${database}`);
      currentDatabase = database;
    }
    if (insert) {
      // Rows handed over as bytes (chdb parses them in parallel) instead of as text inside one huge statement.
      const summary = await session.insert(insert);
      return { bytes: () => new Uint8Array(0), rowsRead: 0, bytesRead: 0, written: summary.rowsWritten ?? 0 };
    }
    return session.queryAsync(sql, { format });
  });
  queue = result.then(
    () => undefined,
    () => undefined,
  );
  return result;
}

function authorized(request) {
  let user = request.headers['x-clickhouse-user'];
  let key = request.headers['x-clickhouse-key'];
  const basic = /^Basic (.+)$/i.exec(request.headers.authorization ?? '');
  if (basic) {
    const text = Buffer.from(basic[1], 'base64').toString('utf8');
    const colon = text.indexOf(':');
    user = text.slice(0, colon < 0 ? undefined : colon);
    key = colon < 0 ? '' : text.slice(colon + 1);
  }
  const given = Buffer.from(String(key ?? ''));
  const expected = Buffer.from(args.password);
  return (user ?? 'default') === 'default' && given.length === expected.length && timingSafeEqual(given, expected);
}

function exceptionText(code, message) {
  // chdb words errors as the server does, minus the version: "Code: 60. DB::Exception: … (UNKNOWN_TABLE)".
  const text = /^Code: \d+\. /.test(message) ? message.replace(/\s+$/, '') : `Code: ${code}. DB::Exception: ${message}`;
  return `${text} (version ${version})\n`;
}

function fail(response, queryId, code, message) {
  const status = STATUS_BY_CODE.get(code) ?? 500;
  response.writeHead(status, {
    'Content-Type': 'text/plain; charset=UTF-8',
    'X-ClickHouse-Query-Id': queryId,
    'X-ClickHouse-Exception-Code': String(code),
    'X-ClickHouse-Server-Display-Name': 'chdb',
  });
  response.end(exceptionText(code, message));
}

/** URL parameters that are settings, as a SETTINGS clause (values quoted unless numeric). */
function settingsClause(params) {
  const settings = [];
  for (const [name, value] of params) {
    if (PARAMS_NOT_SETTINGS.has(name) || name.startsWith('param_')) continue;
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw Object.assign(new Error(`Unknown setting '${name}'`), { clickhouseCode: 115 });
    settings.push(`${name} = ${/^-?\d+(\.\d+)?$/.test(value) ? value : `'${value.replace(/[\\']/g, '\\$&')}'`}`);
  }
  return settings.length === 0 ? '' : ` SETTINGS ${settings.join(', ')}`;
}

/** The statement with a SETTINGS clause where ClickHouse reads one: before FORMAT and any inline data. */
function withSettings(sql, clause) {
  if (clause === '') return sql;
  const format = /\bFORMAT\s+\w+\s*$/i.exec(sql) ?? /\bFORMAT\s+\w+\s*\n/i.exec(sql);
  if (format) return `${sql.slice(0, format.index)}${clause} ${sql.slice(format.index)}`;
  return `${sql.replace(/;?\s*$/, '')}${clause}`;
}

const server = http.createServer((request, response) => {
  const chunks = [];
  request.on('data', (chunk) => chunks.push(chunk));
  request.on('end', () => {
    const url = new URL(request.url ?? '/', 'http://localhost');
    const queryId = url.searchParams.get('query_id') || randomUUID();
    if (url.pathname === '/ping') {
      response.writeHead(200, { 'Content-Type': 'text/plain; charset=UTF-8' });
      response.end('Ok.\n');
      return;
    }
    if (url.pathname !== '/') {
      response.writeHead(404, { 'Content-Type': 'text/plain; charset=UTF-8' });
      response.end(`There is no handle ${url.pathname}\n`);
      return;
    }
    if (!authorized(request)) {
      fail(response, queryId, AUTH_FAILED, 'Code: 516. DB::Exception: default: Authentication failed: password is incorrect, or there is no user with such name. (AUTHENTICATION_FAILED)');
      return;
    }
    const bodyBytes = Buffer.concat(chunks);
    const body = bodyBytes.toString('utf8');
    const inUrl = url.searchParams.get('query') ?? '';
    const sql = inUrl !== '' && body !== '' ? `${inUrl}\n${body}` : inUrl || body;
    if (sql.trim() === '') {
      fail(response, queryId, 62, 'Code: 62. DB::Exception: Empty query. (SYNTAX_ERROR)');
      return;
    }
    const format = url.searchParams.get('default_format') || 'TabSeparated';
    let statement;
    try {
      statement = withSettings(sql, settingsClause(url.searchParams));
    } catch (error) {
      fail(response, queryId, error.clickhouseCode, error.message);
      return;
    }
    const started = process.hrtime.bigint();
    // An INSERT … FORMAT JSONEachRow or TabSeparated with its rows in the body (the client's insert): rows passed
    // through as bytes, never spliced into SQL text (where a SETTINGS clause could land inside the data).
    const insertMatch = /^\s*INSERT\s+INTO\s+([A-Za-z_][\w.]*)\s*(?:\(([^)]*)\))?\s*FORMAT\s+(JSONEachRow|TabSeparated|TSV)\s*$/i.exec(inUrl);
    const settings = Object.fromEntries([...url.searchParams].filter(([name]) => !PARAMS_NOT_SETTINGS.has(name) && !name.startsWith('param_')));
    const insert =
      insertMatch && bodyBytes.length > 0
        ? {
            table: insertMatch[1],
            values: bodyBytes,
            format: /^json/i.test(insertMatch[3]) ? 'JSONEachRow' : 'TabSeparated',
            ...(insertMatch[2] ? { columns: insertMatch[2].split(',').map((c) => c.trim()) } : {}),
            ...(Object.keys(settings).length > 0 ? { settings } : {}),
          }
        : undefined;
    run(statement, url.searchParams.get('database') || 'default', format, insert).then(
      (result) => {
        const bytes = result.bytes();
        const elapsedNs = process.hrtime.bigint() - started;
        const summary = {
          read_rows: String(result.rowsRead ?? 0),
          read_bytes: String(result.bytesRead ?? 0),
          written_rows: String(result.written ?? 0),
          written_bytes: '0',
          total_rows_to_read: '0',
          result_rows: '0',
          result_bytes: String(bytes.length),
          elapsed_ns: String(elapsedNs),
        };
        const explicit = /\bFORMAT\s+(\w+)\s*$/i.exec(sql);
        response.writeHead(200, {
          'Content-Type': 'text/plain; charset=UTF-8',
          'X-ClickHouse-Query-Id': queryId,
          'X-ClickHouse-Format': explicit ? explicit[1] : format,
          'X-ClickHouse-Timezone': 'UTC',
          'X-ClickHouse-Server-Display-Name': 'chdb',
          'X-ClickHouse-Summary': JSON.stringify(summary),
        });
        response.end(Buffer.from(bytes));
      },
      (error) => fail(response, queryId, error.clickhouseCode ?? 1001, String(error.message ?? error)),
    );
  });
});

function shutdown() {
  server.close();
  queue.finally(() => {
    session.close();
    if (temporary) rmSync(dir, { recursive: true, force: true });
    process.exit(0);
  });
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);

version = JSON.parse((await session.queryAsync('SELECT version() AS v', { format: 'JSONEachRow' })).text()).v;
server.keepAliveTimeout = 3000;
server.listen(Number(args.port), '127.0.0.1', () => {
  process.stdout.write(`ready http://127.0.0.1:${server.address().port} ${dir}\n`);
});
