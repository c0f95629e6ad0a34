// One HTTP connection pool to ClickHouse (@clickhouse/client), used the way 18.16 allows: every query names format
// JSONEachRow, every insert TabSeparated with its column list (clickhouse-tsv.ts), DDL goes through `command`, and no
// ClickHouse setting is sent (readonly=1 users may not change any). Errors become one line that says what is wrong,
// without the password.

import { createClient, ClickHouseLogLevel, type ClickHouseClient } from '@clickhouse/client';
import { isNetworkErrorCode } from '../util/network-errors.js';
import { tsvStream, type InsertColumns } from './clickhouse-tsv.js';

export interface ClickHouseConnectionOptions {
  url: string;
  user?: string;
  password?: string;
  /** Per-request timeout; default 30 s. */
  requestTimeoutMs?: number;
}

/** A failure already described for people: the action and what went wrong, on one line. */
export interface ClickHouseFailure {
  message: string;
  /** unreachable: network or timeout; auth: credentials refused; server: anything else ClickHouse said. */
  kind: 'unreachable' | 'auth' | 'server';
  /** ClickHouse's error code, when it sent one. */
  code?: number;
}

/** UNKNOWN_USER, WRONG_PASSWORD, REQUIRED_PASSWORD, IP_ADDRESS_NOT_ALLOWED, AUTHENTICATION_FAILED. */
const AUTH_CODES = new Set([192, 193, 194, 195, 516]);

export class ClickHouseConnection {
  /** The URL without credentials: safe for logs and messages. */
  readonly location: string;
  readonly user: string;
  private readonly client: ClickHouseClient;

  constructor(options: ClickHouseConnectionOptions) {
    const url = new URL(options.url);
    // Credentials may ride in the URL; they are taken out so that `location` can be shown anywhere.
    const user = options.user || decodeURIComponent(url.username) || 'default';
    const password = options.password || decodeURIComponent(url.password);
    url.username = '';
    url.password = '';
    this.location = url.toString().replace(/\/$/, '');
    this.user = user;
    this.client = createClient({
      url: this.location,
      username: user,
      password,
      application: 'otlp-capture',
      request_timeout: options.requestTimeoutMs ?? 30_000,
      // Sockets idle past their TTL are dropped when the next request starts, not only by a timer that runs late
      // after a pause (see resentOnceIfClosed).
      keep_alive: { enabled: true, eagerly_destroy_stale_sockets: true },
      log: { level: ClickHouseLogLevel.OFF },
    });
  }

  async command(sql: string): Promise<void> {
    await this.client.command({ query: sql });
  }

  async select<T = Record<string, unknown>>(sql: string): Promise<T[]> {
    return resentOnceIfClosed(() => this.selectOnce<T>(sql));
  }

  private async selectOnce<T>(sql: string): Promise<T[]> {
    const result = await this.client.query({ query: sql, format: 'JSONEachRow' });
    return result.json<T>();
  }

  /**
   * Inserts rows as TabSeparated (clickhouse-tsv.ts), naming `columns`, streamed: rows are encoded a chunk at a time
   * while earlier chunks are on the wire and being parsed. `settings` only for writers (a readonly=1 user may change
   * none): e.g. synchronous inserts into a Distributed table.
   * @throws InvalidArgumentError when a row holds a value its column cannot take (nothing of the batch is inserted)
   */
  async insert(table: string, columns: InsertColumns, rows: readonly object[], settings?: Record<string, string | number>): Promise<void> {
    if (rows.length === 0) return;
    // Every table is a ReplacingMergeTree keyed and versioned by the rows themselves and read through argMax: a batch
    // sent twice stores identical rows that reads collapse, so a resend after a closed connection is safe.
    await resentOnceIfClosed(() => this.insertOnce(table, columns, rows, settings));
  }

  private async insertOnce(table: string, columns: InsertColumns, rows: readonly object[], settings?: Record<string, string | number>): Promise<void> {
    // tsvStream checks the whole batch before it is read: a stream that failed half-way would have sent rows already.
    await this.client.insert({
      table,
      columns: columns.map(([name]) => name) as [string, ...string[]],
      values: tsvStream(rows, columns),
      format: 'TabSeparated',
      ...(settings === undefined ? {} : { clickhouse_settings: settings as never }),
    });
  }

  /** A DDL or mutation statement with writer-only settings. */
  async commandWith(sql: string, settings: Record<string, string | number>): Promise<void> {
    await this.client.command({ query: sql, clickhouse_settings: settings as never });
  }

  async close(): Promise<void> {
    await this.client.close();
  }

  /** One line for a failure of `action`, naming the server and user but never the password. */
  describeFailure(action: string, error: unknown): ClickHouseFailure {
    const where = `ClickHouse at ${this.location}`;
    const err = error as { code?: unknown; message?: unknown } | null;
    const text = oneLine(String(err?.message ?? error));
    const networkCode = isNetworkErrorCode(err?.code) ? err.code : null;
    if (networkCode !== null || /timeout|socket hang up|ECONNRESET/i.test(text)) {
      return { kind: 'unreachable', message: `cannot ${action}: ${where} is unreachable (${text})` };
    }
    const parsed = parseServerError(text, err?.code);
    if (parsed === null) return { kind: 'server', message: `cannot ${action}: ${where}: ${text}` };
    if (AUTH_CODES.has(parsed.code)) {
      return {
        kind: 'auth',
        code: parsed.code,
        message: `cannot ${action}: ${where} refused user ${JSON.stringify(this.user)}: ${parsed.text} (check CLICKHOUSE_USER / CLICKHOUSE_PASSWORD)`,
      };
    }
    return { kind: 'server', code: parsed.code, message: `cannot ${action}: ${where}: ${parsed.text} (code ${parsed.code})` };
  }
}

/**
 * Sends a request once more when the connection it went out on turned out to be closed by the server (not refused,
 * not timed out): a process paused past the server's keep-alive (a stopped or CPU-throttled pod, a long GC) can send
 * its next request down such a connection before it has seen the close, and the client's own stale-socket check
 * (keep_alive) is racy then. Only for requests that may be sent twice: reads, and inserts of versioned rows.
 */
async function resentOnceIfClosed<T>(send: () => Promise<T>): Promise<T> {
  try {
    return await send();
  } catch (error) {
    if (!isClosedConnection(error)) throw error;
    return send();
  }
}

function isClosedConnection(error: unknown): boolean {
  const err = error as { code?: unknown; message?: unknown } | null;
  return err?.code === 'ECONNRESET' || err?.code === 'EPIPE' || /socket hang up/i.test(String(err?.message ?? ''));
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

/**
 * ClickHouse's exception text in both generations: "Code: 193, e.displayText() = DB::Exception: …, e.what() = …"
 * (18.16, which the client cannot parse) and "Code: 193. DB::Exception: … (WRONG_PASSWORD) (version …)".
 */
function parseServerError(text: string, code: unknown): { code: number; text: string } | null {
  const old = /Code: (\d+), e\.displayText\(\) = (?:DB::Exception: )?(.*?)(?:, e\.what\(\) = .*)?$/.exec(text);
  if (old) return { code: Number(old[1]), text: old[2]! };
  const current = /Code: (\d+)\. (?:DB::Exception: )?(.*?)(?: \(version [^)]*\))?\.?$/.exec(text);
  if (current) return { code: Number(current[1]), text: current[2]! };
  const numeric = typeof code === 'string' && /^\d+$/.test(code) ? Number(code) : null;
  return numeric === null ? null : { code: numeric, text };
}
