// The ClickHouse index schema, as numbered migrations. Valid on ClickHouse 18.16 (Debian) and on current releases.
//
// Engines: ReplacingMergeTree ordered by the natural key (request id, object key). Rows reach ClickHouse at least
// once (an insert whose answer was lost is retried; 18.16 does not deduplicate inserts into non-replicated
// tables), so duplicates are expected until a background merge collapses them — at a time ClickHouse chooses, or
// never. Reads are therefore exact by themselves: `FINAL` collapses duplicates at read time. FINAL rather than
// GROUP BY id + argMax(…) per column: it keeps every read path a plain SELECT, still uses the primary key for
// `id > …` / `key > …` ranges and `ORDER BY … LIMIT`, and a duplicate is a replay of the same commit in all but
// one rare case (one request committed under two objects after a crash), where the last inserted row wins.
//
// Types: no DateTime64 in 18.16, so times are Int64 (unix ms / ns; a signed range like SQLite's INTEGER, values
// outside it are clamped on write). Services are Array(String) and filtered with has(). No LowCardinality, TTL,
// Map or query parameters: 18.16 lacks them. No PARTITION BY: ReplacingMergeTree only collapses within a
// partition, and the key (a ULID or an object key) is what the data is deduplicated by.
//
// Every DDL statement is idempotent (IF NOT EXISTS), so a migration interrupted between its statements and its
// schema_migrations row is simply run again. Append new migrations; never edit an applied one.

import { identifier } from './clickhouse-sql.js';

export interface Migration {
  version: number;
  description: string;
  statements(database: string): string[];
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'objects and requests',
    statements: (database) => {
      const db = identifier(database);
      return [
        `CREATE TABLE IF NOT EXISTS ${db}.objects (
          key String,
          tenant String,
          signal String,
          created_at_ms Int64,
          sealed_at_ms Int64,
          request_count UInt64,
          raw_bytes UInt64,
          stored_bytes UInt64,
          codec String,
          start_ns Int64,
          end_ns Int64
        ) ENGINE = ReplacingMergeTree ORDER BY key`,
        `CREATE TABLE IF NOT EXISTS ${db}.requests (
          id String,
          tenant String,
          signal String,
          received_at_ms Int64,
          items UInt64,
          services Array(String),
          start_ns Int64,
          end_ns Int64,
          raw_bytes UInt64,
          object_key String,
          block_offset UInt64,
          block_length UInt64,
          codec String,
          crc32 UInt32
        ) ENGINE = ReplacingMergeTree ORDER BY id`,
      ];
    },
  },
  {
    // Which requests hold spans of a trace: find-trace reads the rows of one trace id (a primary-key range), then
    // those requests by id. trace_id is the 32 lowercase hex digits. The tenant rides along so that a tenant-scoped
    // lookup never reads another tenant's requests. Duplicate rows (a re-insert, a re-commit) are harmless: the
    // lookup is a DISTINCT.
    version: 2,
    description: 'trace index',
    statements: (database) => [
      `CREATE TABLE IF NOT EXISTS ${identifier(database)}.trace_requests (
          trace_id String,
          request_id String,
          tenant String
        ) ENGINE = ReplacingMergeTree ORDER BY (trace_id, request_id)`,
    ],
  },
  {
    // Retention: keys of objects deleted, or replaced by a moved or re-compressed copy. 18.16 has no synchronous
    // delete, so rows are not removed: every read leaves out rows that point at a retired key (clickhouse-queries.ts).
    version: 3,
    description: 'retired objects',
    statements: (database) => [
      `CREATE TABLE IF NOT EXISTS ${identifier(database)}.retired_objects (
          key String,
          retired_at_ms Int64
        ) ENGINE = ReplacingMergeTree ORDER BY key`,
    ],
  },
  {
    // verify --repair: requests whose block is damaged or whose object is missing, and why. The row for an id
    // inserted last wins (FINAL).
    version: 4,
    description: 'quarantined requests',
    statements: (database) => [
      `CREATE TABLE IF NOT EXISTS ${identifier(database)}.quarantined_requests (
          id String,
          reason String,
          at_ms Int64
        ) ENGINE = ReplacingMergeTree ORDER BY id`,
    ],
  },
];

export const SCHEMA_VERSION = MIGRATIONS.length;

/** What exists before any migration: the database and the table recording applied migrations. */
export function bootstrapStatements(database: string): string[] {
  const db = identifier(database);
  return [
    `CREATE DATABASE IF NOT EXISTS ${db}`,
    `CREATE TABLE IF NOT EXISTS ${db}.schema_migrations (
      version UInt32,
      description String,
      applied_at_ms Int64
    ) ENGINE = ReplacingMergeTree ORDER BY version`,
  ];
}
