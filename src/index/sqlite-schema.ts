// The SQLite index schema, as numbered migrations. `PRAGMA user_version` holds how many have been applied; each
// migration runs in its own transaction together with the version bump, so a crash mid-migration leaves the
// previous version intact. Append new migrations; never edit an applied one.
//
// Timestamps in ns are INTEGER (64-bit signed): unix ns fit until the year 2262. Request rows repeat tenant and
// signal so the common filters need no join; `request_services` turns "requests of service X" into an index range,
// `trace_requests` (version 2) "requests holding trace T" likewise.

export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE objects (
    key           TEXT    PRIMARY KEY,
    tenant        TEXT    NOT NULL,
    signal        TEXT    NOT NULL,
    created_at_ms INTEGER NOT NULL,
    sealed_at_ms  INTEGER NOT NULL,
    request_count INTEGER NOT NULL,
    raw_bytes     INTEGER NOT NULL,
    stored_bytes  INTEGER NOT NULL,
    codec         TEXT    NOT NULL,
    start_ns      INTEGER NOT NULL,
    end_ns        INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE INDEX objects_tenant_signal ON objects (tenant, signal, key);

  CREATE TABLE requests (
    id             TEXT    PRIMARY KEY,
    tenant         TEXT    NOT NULL,
    signal         TEXT    NOT NULL,
    received_at_ms INTEGER NOT NULL,
    items          INTEGER NOT NULL,
    services       TEXT    NOT NULL, -- JSON array, as given
    start_ns       INTEGER NOT NULL,
    end_ns         INTEGER NOT NULL,
    raw_bytes      INTEGER NOT NULL,
    object_key     TEXT    NOT NULL,
    block_offset   INTEGER NOT NULL,
    block_length   INTEGER NOT NULL,
    codec          TEXT    NOT NULL,
    crc32          INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE INDEX requests_object ON requests (object_key);
  CREATE INDEX requests_signal ON requests (signal, id);
  CREATE INDEX requests_tenant_signal ON requests (tenant, signal, id);

  CREATE TABLE request_services (
    service    TEXT NOT NULL,
    request_id TEXT NOT NULL,
    PRIMARY KEY (service, request_id)
  ) WITHOUT ROWID;
  `,
  // The trace index: which requests hold spans of a trace, in generations of about 64 Ki rows. Trace ids are random,
  // so one B-tree keyed by trace id alone takes every commit's rows on as many random pages: measured on this design,
  // a commit of a 64 MiB object (27 k rows) went from 0.3 s to 1.2 s as the table grew to 5 M rows, writing ~100 MiB
  // of WAL each time. Keyed by (generation, trace id), a commit only touches the current generation's pages (its
  // cost stays flat, ~4 MiB of WAL), and a lookup probes each generation once (~10 µs each). Rows of requests that no
  // longer exist are ignored by the join that reads them.
  `
  CREATE TABLE trace_generations (
    gen  INTEGER PRIMARY KEY,
    rows INTEGER NOT NULL
  );
  CREATE TABLE trace_requests (
    gen        INTEGER NOT NULL,
    trace_id   BLOB    NOT NULL,
    request_id TEXT    NOT NULL,
    PRIMARY KEY (gen, trace_id, request_id)
  ) WITHOUT ROWID;
  `,
  // Retention (version 3): keys of objects deleted, or replaced by a moved or rewritten copy. A late commitObject of
  // such a key (a reindex that read the object just before retention removed it) changes nothing, as on ClickHouse.
  `
  CREATE TABLE retired_objects (
    key           TEXT    PRIMARY KEY,
    retired_at_ms INTEGER NOT NULL
  ) WITHOUT ROWID;
  `,
  // verify --repair (version 4): requests whose block is damaged or whose object is missing, and why.
  `
  CREATE TABLE quarantined_requests (
    id     TEXT    PRIMARY KEY,
    reason TEXT    NOT NULL,
    at_ms  INTEGER NOT NULL
  ) WITHOUT ROWID;
  `,
  // Archive scale (version 5).
  // - fingerprint: xxh64 of the raw request (NULL for requests captured before fingerprints). Retries of a request
  //   are found by (tenant, signal, fingerprint) within a receive-time window: the partial index answers that lookup
  //   (its rows end in the primary key, the id, which is the receive time).
  // - request_buckets: per bucket of receive time (the first 6 characters of the ULID: 2^20 ms ≈ 17.5 min), tenant and signal,
  //   how many requests the index holds and the span of their data times. Data-time filters and counts read these
  //   instead of every row (see request-windows.ts). Kept exact: written in the same transaction as the rows, and
  //   decremented when retention deletes rows; the data-time span only ever widens (a superset is all reads need).
  // - The backfill reads every request once (tens of seconds at 10 M rows, once).
  `
  ALTER TABLE requests ADD COLUMN fingerprint TEXT;
  CREATE INDEX requests_fingerprint ON requests (tenant, signal, fingerprint) WHERE fingerprint IS NOT NULL;

  CREATE TABLE request_buckets (
    bucket       TEXT    NOT NULL,
    tenant       TEXT    NOT NULL,
    signal       TEXT    NOT NULL,
    requests     INTEGER NOT NULL,
    min_start_ns INTEGER NOT NULL,
    max_end_ns   INTEGER NOT NULL,
    PRIMARY KEY (bucket, tenant, signal)
  ) WITHOUT ROWID;
  INSERT INTO request_buckets (bucket, tenant, signal, requests, min_start_ns, max_end_ns)
    SELECT substr(id, 1, 6), tenant, signal, count(*), min(start_ns), max(end_ns) FROM requests GROUP BY 1, 2, 3;
  CREATE INDEX request_buckets_stream ON request_buckets (tenant, signal, bucket);
  `,
  // Trace requests without trace rows (version 6). Version 2 created the trace index empty and nothing filled it for
  // the trace requests already indexed (by otlp-capture before 6e7146c, 2026-11-27, whose index had no trace
  // index): find-trace silently missed them, and reindex, which adds trace rows only for requests new to the index,
  // could not bring them back. Listed here, they are what commitObject fills when reindex commits their object again
  // (reading the trace ids from the blocks), and what find-trace warns about until then.
  // Recognised only while the trace index is still empty (an index that version 2 has just created): telling them
  // apart afterwards means a pass over every trace row (~3 s per million requests).
  `
  CREATE TABLE untraced_requests (
    id TEXT PRIMARY KEY
  ) WITHOUT ROWID;
  INSERT INTO untraced_requests (id)
    SELECT id FROM requests WHERE signal = 'traces' AND items > 0 AND NOT EXISTS (SELECT 1 FROM trace_requests);
  `,
];

export const SCHEMA_VERSION = MIGRATIONS.length;
