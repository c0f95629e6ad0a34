// Brings a ClickHouse index to the current schema (clickhouse-schema.ts). A new index gets it directly. An index
// of versions 1-3 is migrated by copy, on one server: the new tables are built beside the old ones from the rows
// every read of versions 1-3 showed (FINAL, retired objects left out), then swapped in by one RENAME; the old tables
// stay as requests_v3 / objects_v3 (dropped at once when empty) until someone drops them. On a crash the copy starts
// over (the half-built tables are dropped first); after the swap, only the id/service copies and bucket counts are
// rebuilt. Version 5 adds the quarantine table. A cluster starts at version 4 or later: an existing index moves into a cluster with `otlp-capture reindex`.
import { BackendUnavailableError } from '../errors.js';
import type { Logger } from '../telemetry/logger.js';
import type { ClickHouseConnection } from './clickhouse-connection.js';
import { MIGRATION_INSERT_COLUMNS } from './clickhouse-rows.js';
import { literal } from './clickhouse-sql.js';
import {
  LEGACY_MIGRATIONS,
  SCHEMA_DESCRIPTIONS,
  SCHEMA_VERSION,
  bootstrapStatements,
  derivedTables,
  freshSchemaStatements,
  objectsTable,
  quarantineTable,
  requestsTable,
  tableNames,
  traceTable,
  retiredTable,
  type SchemaTarget,
} from './clickhouse-schema.js';

const REQUEST_COPY_COLUMNS =
  'id, tenant, signal, received_at_ms, items, services, start_ns, end_ns, raw_bytes, object_key, block_offset, block_length, codec, crc32';
const OBJECT_COPY_COLUMNS = 'key, tenant, signal, created_at_ms, sealed_at_ms, request_count, raw_bytes, stored_bytes, codec, start_ns, end_ns';

export async function schemaVersion(connection: ClickHouseConnection, target: SchemaTarget): Promise<number> {
  const [row] = await connection.select<{ version: string }>(
    `SELECT toString(max(version)) AS version FROM ${tableNames(target).read('schema_migrations')}`,
  );
  return Number(row?.version ?? 0);
}

export async function tablesOf(connection: ClickHouseConnection, database: string): Promise<Set<string>> {
  const rows = await connection.select<{ name: string }>(`SELECT name FROM system.tables WHERE database = ${literal(database)}`);
  return new Set(rows.map((row) => row.name));
}

/** Creates or migrates the schema; idempotent and safe to race with another writer doing the same. */
export async function migrateSchema(connection: ClickHouseConnection, target: SchemaTarget, logger?: Logger): Promise<void> {
  // Up to date: no DDL at all (on a cluster, DDL waits for every node, and this runs again after every outage).
  const tables = await tablesOf(connection, target.database);
  if (tables.has('schema_migrations') && (await schemaVersion(connection, target)) === SCHEMA_VERSION) return;
  for (const statement of bootstrapStatements(target)) await connection.command(statement);
  const current = await schemaVersion(connection, target);
  if (current > SCHEMA_VERSION) {
    throw new BackendUnavailableError(
      `ClickHouse index ${target.database} has schema version ${current}, newer than this build knows (${SCHEMA_VERSION}): upgrade otlp-capture`,
    );
  }
  if (current === SCHEMA_VERSION) return;
  const fresh = current === 0 && !tables.has('requests') && !tables.has('requests_v3');
  if (fresh) {
    for (const statement of freshSchemaStatements(target)) await connection.command(statement);
    await record(connection, target, [1, 2, 3, 4, 5]);
    return;
  }
  if (current < 4) await migrateToVersion4(connection, target, current, logger);
  for (const statement of quarantineTable(target)) await connection.command(statement);
  await record(connection, target, [5]);
}

async function migrateToVersion4(connection: ClickHouseConnection, target: SchemaTarget, current: number, logger?: Logger): Promise<void> {
  if (target.cluster !== null) {
    throw new BackendUnavailableError(
      `ClickHouse index ${target.database} was written by an older otlp-capture on one server (schema version ${current}); ` +
        'a cluster index starts empty: use a new database for the cluster and fill it with `otlp-capture reindex`',
    );
  }
  for (const migration of LEGACY_MIGRATIONS) {
    if (migration.version <= current) continue;
    for (const statement of migration.statements(target.database)) await connection.command(statement);
    await record(connection, target, [migration.version]);
  }
  await copyToVersion4(connection, target, logger);
  await record(connection, target, [4]);
}

async function record(connection: ClickHouseConnection, target: SchemaTarget, versions: number[]): Promise<void> {
  await connection.insert(
    tableNames(target).read('schema_migrations'),
    MIGRATION_INSERT_COLUMNS,
    versions.map((version) => ({ version, description: SCHEMA_DESCRIPTIONS[version] ?? '', applied_at_ms: String(Date.now()) })),
  );
}

async function copyToVersion4(connection: ClickHouseConnection, target: SchemaTarget, logger?: Logger): Promise<void> {
  const db = target.database;
  const started = Date.now();
  let tables = await tablesOf(connection, db);
  if (!tables.has('requests_v3')) {
    logger?.info({ database: db }, 'migrating the ClickHouse index to schema version 4 (copying every request row once)');
    for (const name of ['requests_v4', 'objects_v4']) await connection.command(`DROP TABLE IF EXISTS ${db}.${name}`);
    for (const statement of [...requestsTable(target, 'requests_v4'), ...objectsTable(target, 'objects_v4')]) await connection.command(statement);
    const live = (column: string): string => `${column} NOT IN (SELECT key FROM ${db}.retired_objects)`;
    await connection.command(
      `INSERT INTO ${db}.requests_v4 (${REQUEST_COPY_COLUMNS}, fingerprint, version) ` +
        `SELECT ${REQUEST_COPY_COLUMNS}, '' AS fingerprint, toUInt64(1) AS version FROM ${db}.requests FINAL WHERE ${live('object_key')}`,
    );
    await connection.command(
      `INSERT INTO ${db}.objects_v4 (${OBJECT_COPY_COLUMNS}, version) ` +
        `SELECT ${OBJECT_COPY_COLUMNS}, toUInt64(1) AS version FROM ${db}.objects FINAL WHERE ${live('key')}`,
    );
    await connection.command(
      `RENAME TABLE ${db}.requests TO ${db}.requests_v3, ${db}.requests_v4 TO ${db}.requests, ` +
        `${db}.objects TO ${db}.objects_v3, ${db}.objects_v4 TO ${db}.objects`,
    );
    tables = await tablesOf(connection, db);
  }
  // The copies by id and by service and the bucket counts: rebuilt from requests (a crash here left them partial).
  for (const name of ['request_ids_view', 'request_services_view', 'request_buckets_view', 'request_ids', 'request_services', 'request_buckets']) {
    if (tables.has(name)) await connection.command(`DROP TABLE IF EXISTS ${db}.${name}`);
  }
  for (const statement of derivedTables(target)) await connection.command(statement);
  await connection.command(`INSERT INTO ${db}.request_ids SELECT id, tenant, signal, start_ns, end_ns, object_key, version FROM ${db}.requests`);
  await connection.command(
    `INSERT INTO ${db}.request_services SELECT arrayJoin(services) AS service, id, tenant, signal, object_key, version FROM ${db}.requests`,
  );
  await connection.command(
    `INSERT INTO ${db}.request_buckets SELECT substring(id, 1, 6) AS bucket, tenant, signal, countState() AS requests, ` +
      `minState(start_ns) AS min_start_ns, maxState(end_ns) AS max_end_ns FROM ${db}.requests GROUP BY bucket, tenant, signal`,
  );
  for (const statement of [...traceTable(target), ...retiredTable(target)]) await connection.command(statement);
  // Backups of nothing are noise: an index that was empty keeps no old tables.
  for (const name of ['requests_v3', 'objects_v3']) {
    const [row] = await connection.select<{ n: string }>(`SELECT toString(count()) AS n FROM ${db}.${name}`);
    if (Number(row?.n ?? 0) === 0) await connection.command(`DROP TABLE IF EXISTS ${db}.${name}`);
    else logger?.info({ database: db, table: `${db}.${name}` }, 'the pre-version-4 table is kept as a backup; drop it once the index reads right');
  }
  logger?.info({ database: db, ms: Date.now() - started }, 'ClickHouse index migrated to schema version 4');
}
