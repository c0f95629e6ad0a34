// The ClickHouse index schema. Version 4 is built for archive scale (billions of request rows); versions 1-3 (one
// table per kind, ordered by id, FINAL and a global NOT IN on every read) are kept here as they were, because an
// index written by them is migrated by copy (clickhouse-migrate.ts) and tests build such indexes to check that.
//
// Version 4 (valid on 18.16 and current releases; the current dialect adds LowCardinality columns and skip indexes):
// - requests: the full rows. PARTITION BY the first four characters of the id — ids are ULIDs, so that is 2^30 ms
//   (≈ 12.4 days) of receive time, and every part keeps min/max id, so a time window skips whole parts. ORDER BY
//   (tenant, signal, id): the everyday filters are a primary-key range, and the id is the receive time then
//   randomness. Granules of 256 rows: a newest-first page gathers ~100 rows from ~100 streams, one granule each, so a
//   granule is the unit of read amplification (the primary index stays ~10 MB at 50 M rows). ReplacingMergeTree(version): rows arrive at least once (a retried insert) and retention moves rows by
//   inserting them again with a higher version; reads collapse what merges have not yet (highest version wins) for
//   the rows they touch only, never with a FINAL over the table.
// - request_ids (id …), request_services (service, id …): narrow copies ordered by id and by (service, id), filled
//   by materialized views from every insert into requests, so "newest requests", "by id" and "by service" are key
//   ranges too. They carry object_key and version, so a reader knows which row of a request is current.
// - request_buckets: per bucket of receive time (6 ULID characters: 2^20 ms ≈ 17.5 min), tenant and signal, how many rows and
//   the span of their data times (AggregatingMergeTree, filled by a view). Listings size their id windows with it
//   and data-time filters skip buckets that cannot match (request-windows.ts).
// - objects: ordered by key (tenant/signal/date/hour/id: again tenant, signal, time, then id), partitioned by month
//   of creation, ReplacingMergeTree(version).
// - quarantined_requests (version 5): what verify --repair set aside.
// - trace_requests (version 2) and retired_objects (version 3) stay as they were. Retired keys keep a late re-insert
//   from bringing back what retention removed, and hide rows until they are gone: at once on the current dialect
//   (lightweight DELETE), after a batched mutation on 18.16.
// - Cluster (index.clickhouse.cluster): every table is created ON CLUSTER as a Replicated engine named `<table>_local`
//   with a Distributed table `<table>` over it, sharded by a hash of the request id (trace rows by trace id, objects by
//   key); the views run on each shard's local tables. schema_migrations and retired_objects are replicated to every
//   node (one ZooKeeper path for all shards), since every shard filters by them.
//
// Every statement is idempotent (IF NOT EXISTS), so a start that stops half-way simply runs them again.

import { identifier } from './clickhouse-sql.js';
import type { Dialect } from './clickhouse-dialect.js';

export interface Migration {
  version: number;
  description: string;
  statements(database: string): string[];
}

/** Versions 1-3 as they were applied (single server): only what an index from before version 4 looks like. */
export const LEGACY_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'objects and requests',
    statements: (database) => {
      const db = identifier(database);
      return [
        `CREATE TABLE IF NOT EXISTS ${db}.objects (
          key String, tenant String, signal String, created_at_ms Int64, sealed_at_ms Int64, request_count UInt64,
          raw_bytes UInt64, stored_bytes UInt64, codec String, start_ns Int64, end_ns Int64
        ) ENGINE = ReplacingMergeTree ORDER BY key`,
        `CREATE TABLE IF NOT EXISTS ${db}.requests (
          id String, tenant String, signal String, received_at_ms Int64, items UInt64, services Array(String),
          start_ns Int64, end_ns Int64, raw_bytes UInt64, object_key String, block_offset UInt64, block_length UInt64,
          codec String, crc32 UInt32
        ) ENGINE = ReplacingMergeTree ORDER BY id`,
      ];
    },
  },
  {
    version: 2,
    description: 'trace index',
    statements: (database) => [
      `CREATE TABLE IF NOT EXISTS ${identifier(database)}.trace_requests (trace_id String, request_id String, tenant String)
        ENGINE = ReplacingMergeTree ORDER BY (trace_id, request_id)`,
    ],
  },
  {
    version: 3,
    description: 'retired objects',
    statements: (database) => [
      `CREATE TABLE IF NOT EXISTS ${identifier(database)}.retired_objects (key String, retired_at_ms Int64)
        ENGINE = ReplacingMergeTree ORDER BY key`,
    ],
  },
];

export const SCHEMA_VERSION = 5;
export const SCHEMA_DESCRIPTIONS: Readonly<Record<number, string>> = {
  1: 'objects and requests',
  2: 'trace index',
  3: 'retired objects',
  4: 'archive scale: partitions, keys by tenant/signal/time, id and service copies, bucket counts',
  5: 'quarantined requests',
};

/** Where the index lives: database, optional cluster, and the server's dialect. */
export interface SchemaTarget {
  database: string;
  cluster: string | null;
  dialect: Dialect;
}

/** Table names as reads and inserts use them (the Distributed table on a cluster) and as DDL/mutations do (local). */
export interface TableNames {
  /** `db.table`: what reads and inserts name. */
  read(table: string): string;
  /** `db.table_local` on a cluster, else `db.table`: what DDL, mutations and views name. */
  local(table: string): string;
  /** ` ON CLUSTER name` or ''. */
  onCluster: string;
}

/** Sharding expression of each sharded table's Distributed engine. */
const SHARDING: Record<string, string> = {
  requests: 'cityHash64(id)',
  request_ids: 'cityHash64(id)',
  request_services: 'cityHash64(id)',
  request_buckets: 'cityHash64(bucket, tenant, signal)',
  objects: 'cityHash64(key)',
  trace_requests: 'cityHash64(trace_id)',
};

export function tableNames(target: SchemaTarget): TableNames {
  const db = identifier(target.database);
  const cluster = target.cluster === null ? null : identifier(target.cluster);
  return {
    read: (table) => `${db}.${table}`,
    // Only sharded tables have a local twin; tables on every node, and views, go by their own name.
    local: (table) => `${db}.${table}${cluster !== null && table in SHARDING ? '_local' : ''}`,
    onCluster: cluster === null ? '' : ` ON CLUSTER ${cluster}`,
  };
}

/** Tables a cluster replicates to every node rather than shards. */
const EVERYWHERE = new Set(['schema_migrations', 'retired_objects']);

/** `ReplacingMergeTree(version)` or its Replicated twin, on a cluster sharded or on every node. */
function engine(target: SchemaTarget, table: string, kind: 'Replacing' | 'Aggregating', version?: string): string {
  const args = version === undefined ? [] : [version];
  if (target.cluster === null) return `${kind}MergeTree${args.length > 0 ? `(${args.join(', ')})` : ''}`;
  const shard = EVERYWHERE.has(table) ? 'all' : '{shard}';
  const path = `'/clickhouse/tables/${shard}/${identifier(target.database)}/${table}'`;
  return `Replicated${kind}MergeTree(${[path, "'{replica}'", ...args].join(', ')})`;
}

function create(target: SchemaTarget, table: string, body: string): string[] {
  const names = tableNames(target);
  const statements = [`CREATE TABLE IF NOT EXISTS ${names.local(table)}${names.onCluster} ${body}`];
  if (target.cluster !== null && !EVERYWHERE.has(table)) {
    const db = identifier(target.database);
    statements.push(
      `CREATE TABLE IF NOT EXISTS ${names.read(table)}${names.onCluster} AS ${names.local(table)} ` +
        `ENGINE = Distributed(${identifier(target.cluster)}, ${db}, ${table}_local, ${SHARDING[table]})`,
    );
  }
  return statements;
}

/** What exists before any migration: the database and the table recording applied migrations. */
export function bootstrapStatements(target: SchemaTarget): string[] {
  const names = tableNames(target);
  return [
    `CREATE DATABASE IF NOT EXISTS ${identifier(target.database)}${names.onCluster}`,
    ...create(
      target,
      'schema_migrations',
      `(version UInt32, description String, applied_at_ms Int64) ENGINE = ${engine(target, 'schema_migrations', 'Replacing')} ORDER BY version`,
    ),
  ];
}

/** Names of the version-4 tables whose rows a fresh index or a migration creates. */
export const V4_TABLES = ['requests', 'request_ids', 'request_services', 'request_buckets', 'objects'] as const;

/** The version-4 requests table, under `name` (the migration builds it beside the old one first). */
export function requestsTable(target: SchemaTarget, name = 'requests'): string[] {
  const lc = (type: string): string => (target.dialect.lowCardinality ? `LowCardinality(${type})` : type);
  const skip = target.dialect.skipIndexes
    ? `,
      INDEX data_start start_ns TYPE minmax GRANULARITY 4,
      INDEX data_end end_ns TYPE minmax GRANULARITY 4,
      INDEX services_bloom services TYPE bloom_filter GRANULARITY 4,
      INDEX fingerprint_bloom fingerprint TYPE bloom_filter GRANULARITY 4,
      INDEX object_key_bloom object_key TYPE bloom_filter GRANULARITY 4`
    : '';
  return create(
    target,
    name,
    `(
      id String, tenant ${lc('String')}, signal ${lc('String')}, received_at_ms Int64, items UInt64,
      services Array(${lc('String')}), start_ns Int64, end_ns Int64, raw_bytes UInt64, object_key String,
      block_offset UInt64, block_length UInt64, codec ${lc('String')}, crc32 UInt32, fingerprint String, version UInt64${skip}
    ) ENGINE = ${engine(target, name, 'Replacing', 'version')}
    PARTITION BY substring(id, 1, 4) ORDER BY (tenant, signal, id) SETTINGS index_granularity = 256`,
  );
}

export function objectsTable(target: SchemaTarget, name = 'objects'): string[] {
  const lc = (type: string): string => (target.dialect.lowCardinality ? `LowCardinality(${type})` : type);
  return create(
    target,
    name,
    `(
      key String, tenant ${lc('String')}, signal ${lc('String')}, created_at_ms Int64, sealed_at_ms Int64,
      request_count UInt64, raw_bytes UInt64, stored_bytes UInt64, codec ${lc('String')}, start_ns Int64, end_ns Int64,
      version UInt64
    ) ENGINE = ${engine(target, name, 'Replacing', 'version')}
    PARTITION BY toYYYYMM(toDateTime(intDiv(created_at_ms, 1000), 'UTC')) ORDER BY key`,
  );
}

/** The copies of requests that views keep (by id, by service, bucket counts), and the views themselves. */
export function derivedTables(target: SchemaTarget): string[] {
  const names = tableNames(target);
  const lc = (type: string): string => (target.dialect.lowCardinality ? `LowCardinality(${type})` : type);
  const source = names.local('requests');
  const view = (name: string, into: string, select: string, groupBy = ''): string =>
    `CREATE MATERIALIZED VIEW IF NOT EXISTS ${names.local(name)}${names.onCluster} TO ${names.local(into)} AS ${select} FROM ${source}${groupBy}`;
  return [
    ...create(
      target,
      'request_ids',
      `(
        id String, tenant ${lc('String')}, signal ${lc('String')}, start_ns Int64, end_ns Int64, object_key String, version UInt64
      ) ENGINE = ${engine(target, 'request_ids', 'Replacing', 'version')}
      PARTITION BY substring(id, 1, 4) ORDER BY id SETTINGS index_granularity = 1024`,
    ),
    ...create(
      target,
      'request_services',
      `(
        service String, id String, tenant ${lc('String')}, signal ${lc('String')}, object_key String, version UInt64
      ) ENGINE = ${engine(target, 'request_services', 'Replacing', 'version')}
      PARTITION BY substring(id, 1, 4) ORDER BY (service, id) SETTINGS index_granularity = 1024`,
    ),
    ...create(
      target,
      'request_buckets',
      `(
        bucket String, tenant ${lc('String')}, signal ${lc('String')}, requests AggregateFunction(count),
        min_start_ns AggregateFunction(min, Int64), max_end_ns AggregateFunction(max, Int64)
      ) ENGINE = ${engine(target, 'request_buckets', 'Aggregating')}
      PARTITION BY substring(bucket, 1, 4) ORDER BY (bucket, tenant, signal)`,
    ),
    view('request_ids_view', 'request_ids', 'SELECT id, tenant, signal, start_ns, end_ns, object_key, version'),
    view('request_services_view', 'request_services', 'SELECT arrayJoin(services) AS service, id, tenant, signal, object_key, version'),
    view(
      'request_buckets_view',
      'request_buckets',
      'SELECT substring(id, 1, 6) AS bucket, tenant, signal, countState() AS requests, minState(start_ns) AS min_start_ns, ' +
        'maxState(end_ns) AS max_end_ns',
      ' GROUP BY bucket, tenant, signal',
    ),
  ];
}

export function traceTable(target: SchemaTarget): string[] {
  return create(
    target,
    'trace_requests',
    `(trace_id String, request_id String, tenant String) ENGINE = ${engine(target, 'trace_requests', 'Replacing')} ORDER BY (trace_id, request_id)`,
  );
}

export function retiredTable(target: SchemaTarget): string[] {
  return create(target, 'retired_objects', `(key String, retired_at_ms Int64) ENGINE = ${engine(target, 'retired_objects', 'Replacing')} ORDER BY key`);
}

/**
 * Version 5, for verify --repair: requests whose block is damaged or whose object is missing, and why. The row for an
 * id inserted last wins (FINAL; a handful of rows).
 */
export function quarantineTable(target: SchemaTarget): string[] {
  return create(
    target,
    'quarantined_requests',
    `(id String, reason String, at_ms Int64) ENGINE = ${engine(target, 'quarantined_requests', 'Replacing')} ORDER BY id`,
  );
}

/** Every table of the current version, for an index that has none yet. */
export function freshSchemaStatements(target: SchemaTarget): string[] {
  return [
    ...requestsTable(target),
    ...objectsTable(target),
    ...derivedTables(target),
    ...traceTable(target),
    ...retiredTable(target),
    ...quarantineTable(target),
  ];
}
