// Which Parquet writer `export --format parquet` uses, decided by measurement: the same raw OTLP trace requests are
// flattened by the product's own flattener (dist/export/flatten.js) and written with each candidate, each in its own
// process (for a clean peak RSS). Reported: MiB/s of raw OTLP in, peak RSS, file size. `flatten only` is the baseline
// (the same work without a writer).
//
//   npm run build && npx tsc -p tsconfig.bench.json        # dist/ and bench/dist/ (the payload generator)
//   cd bench/parquet-choice && npm install && node compare.mjs [--requests 24] [--bytes 1048576]
import { spawnSync } from 'node:child_process';
import { createWriteStream, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const BATCH_ROWS = 16_384;
const CANDIDATES = ['flatten-only', 'parquet-wasm', 'parquet-wasm-arrow-builders', 'duckdb-appender', 'parquetjs', 'hyparquet-writer'];

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const at = args.indexOf(`--${name}`);
  return at >= 0 ? args[at + 1] : fallback;
};

if (option('candidate') === undefined) await parent();
else await child(option('candidate'), option('payloads'), option('out'));

async function parent() {
  const requests = Number(option('requests', '24'));
  const bytes = Number(option('bytes', String(2 ** 20)));
  const only = option('only');
  const { traceRequestOfSize } = await import(path.join(REPO, 'bench/dist/tests/helpers/otlp-payloads.js'));
  const dir = mkdtempSync(path.join(os.tmpdir(), 'parquet-choice-'));
  let raw = 0;
  for (let seed = 1; seed <= requests; seed++) {
    const proto = traceRequestOfSize(bytes, seed).proto;
    writeFileSync(path.join(dir, `${String(seed).padStart(4, '0')}.binpb`), proto);
    raw += proto.length;
  }
  console.log(`${requests} trace requests, ${(raw / 2 ** 20).toFixed(1)} MiB raw OTLP; node ${process.version}; ${os.cpus().length} cores`);
  // MiB/CPU-s (raw OTLP per CPU second of the whole process, start-up included) holds on a machine shared with other
  // work, where wall-clock MiB/s does not.
  console.log('candidate                     MiB/s   MiB/CPU-s   peak RSS   output     rows');
  const results = [];
  for (const candidate of CANDIDATES.filter((c) => only === undefined || only.split(',').includes(c))) {
    const out = path.join(dir, `${candidate}.parquet`);
    const run = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--candidate', candidate, '--payloads', dir, '--out', out], {
      encoding: 'utf8',
      maxBuffer: 2 ** 24,
    });
    if (run.status !== 0) {
      console.log(`${candidate.padEnd(27)} failed: ${(run.stderr || run.stdout).trim().split('\n').slice(-3).join(' | ')}`);
      continue;
    }
    const result = JSON.parse(run.stdout.trim().split('\n').pop());
    results.push({ candidate, ...result });
    console.log(
      `${candidate.padEnd(27)} ${(raw / 2 ** 20 / result.seconds).toFixed(1).padStart(6)}   ${(raw / 2 ** 20 / result.cpuSeconds).toFixed(1).padStart(9)}   ${(result.maxRssKiB / 1024).toFixed(0).padStart(5)} MiB` +
        `   ${result.outputBytes === null ? '      -' : `${(result.outputBytes / 2 ** 20).toFixed(1).padStart(5)} MiB`}   ${result.rows}`,
    );
  }
  writeFileSync(path.join(REPO, 'bench/parquet-choice/last-run.json'), `${JSON.stringify({ requests, rawBytes: raw, results }, null, 2)}\n`);
  rmSync(dir, { recursive: true, force: true });
}

async function child(candidate, dir, out) {
  const { flattenRequest } = await import(path.join(REPO, 'dist/export/flatten.js'));
  const { SPANS_TABLE } = await import(path.join(REPO, 'dist/export/tables.js'));
  const files = readdirSync(dir).filter((f) => f.endsWith('.binpb')).sort().map((f) => path.join(dir, f));
  const writer = await openWriter(candidate, SPANS_TABLE.columns, out);
  const started = performance.now();
  let batch = [];
  let rows = 0;
  const sink = { add: (row) => batch.push(row) };
  for (const [i, file] of files.entries()) {
    flattenRequest({ id: `request-${i}`, signal: 'traces', startNs: 1n }, readFileSync(file), sink);
    if (batch.length >= BATCH_ROWS) {
      rows += batch.length;
      await writer.write(batch);
      batch = [];
    }
  }
  rows += batch.length;
  if (batch.length > 0) await writer.write(batch);
  await writer.finish();
  const seconds = (performance.now() - started) / 1000;
  const outputBytes = candidate === 'flatten-only' ? null : statSync(out).size;
  const usage = process.resourceUsage();
  const cpuSeconds = (usage.userCPUTime + usage.systemCPUTime) / 1e6;
  console.log(JSON.stringify({ seconds, cpuSeconds, rows, outputBytes, maxRssKiB: usage.maxRSS }));
}

async function openWriter(candidate, columns, out) {
  switch (candidate) {
    case 'flatten-only':
      return { write: async () => undefined, finish: async () => undefined };
    case 'parquet-wasm':
      return parquetWasmWriter(columns, out, 'product');
    case 'parquet-wasm-arrow-builders':
      return parquetWasmWriter(columns, out, 'arrow');
    case 'duckdb-appender':
      return duckdbWriter(columns, out);
    case 'parquetjs':
      return parquetjsWriter(columns, out);
    case 'hyparquet-writer':
      return hyparquetWriter(columns, out);
  }
  throw new Error(`unknown candidate ${candidate}`);
}

// parquet-wasm (arrow-rs in WebAssembly) fed Arrow record batches, streamed row group by row group
// (transformParquetStream), ZSTD. `builders`: 'arrow' builds the batches with apache-arrow's own builders
// (vectorFromArray), 'product' with the product's buffer code (dist/export/arrow-batch.js).
async function parquetWasmWriter(columns, out, builders) {
  const arrow = await import('apache-arrow');
  const pw = await import('parquet-wasm/node');
  const product = { ...(await import(path.join(REPO, 'dist/export/arrow-batch.js'))), table: (await import(path.join(REPO, 'dist/export/tables.js'))).SPANS_TABLE };
  const productSchema = product.arrowSchema(product.table);
  const fields = columns.map((c) => new arrow.Field(c.name, arrowType(arrow, c.kind), true));
  const schema = new arrow.Schema(fields);
  const queue = [];
  let wake = null;
  let ended = false;
  const source = new ReadableStream({
    async pull(controller) {
      while (queue.length === 0 && !ended) await new Promise((resolve) => (wake = resolve));
      if (queue.length > 0) controller.enqueue(queue.shift());
      else controller.close();
    },
  });
  const props = new pw.WriterPropertiesBuilder().setCompression(pw.Compression.ZSTD).build();
  // Not awaited here: it reads the first batch (for the schema) before it resolves.
  const transformed = pw.transformParquetStream(source, props);
  const file = createWriteStream(out);
  const draining = (async () => {
    for await (const chunk of await transformed) if (!file.write(chunk)) await new Promise((resolve) => file.once('drain', resolve));
    await new Promise((resolve, reject) => file.end((error) => (error ? reject(error) : resolve())));
  })();
  return {
    async write(rows) {
      let ipc;
      if (builders === 'product') {
        const builder = new product.BatchBuilder(product.table, productSchema);
        for (const row of rows) builder.append(row);
        ipc = product.ipcStream(builder.finish());
      } else {
        const children = columns.map((c, i) => arrowData(arrow, c.kind, rows.map((row) => row[i])));
        const batch = new arrow.RecordBatch(schema, arrow.makeData({ type: new arrow.Struct(fields), length: rows.length, nullCount: 0, children }));
        ipc = arrow.tableToIPC(new arrow.Table([batch]), 'stream');
      }
      const table = pw.Table.fromIPCStream(ipc);
      for (const b of table.recordBatches()) queue.push(b);
      wake?.();
      // Let the stream take it before the next batch is built (bounded memory).
      while (queue.length > 0) await new Promise((resolve) => setImmediate(resolve));
    },
    async finish() {
      ended = true;
      wake?.();
      await draining;
    },
  };
}

function arrowType(arrow, kind) {
  switch (kind) {
    case 'string': return new arrow.Utf8();
    case 'timestamp': return new arrow.Timestamp(arrow.TimeUnit.NANOSECOND, 'UTC');
    case 'int64': return new arrow.Int64();
    case 'int32': return new arrow.Int32();
    case 'double': return new arrow.Float64();
    case 'bool': return new arrow.Bool();
    case 'int64_list': return new arrow.List(new arrow.Field('element', new arrow.Int64(), true));
    case 'double_list': return new arrow.List(new arrow.Field('element', new arrow.Float64(), true));
    case 'map': return mapType(arrow);
  }
}

function mapType(arrow) {
  const entries = new arrow.Struct([new arrow.Field('key', new arrow.Utf8(), false), new arrow.Field('value', new arrow.Utf8(), true)]);
  return new arrow.Map_(new arrow.Field('entries', entries, false), false);
}

function validity(values) {
  const bitmap = new Uint8Array(Math.ceil(values.length / 8));
  let nulls = 0;
  values.forEach((v, i) => {
    if (v === null || v === undefined) nulls++;
    else bitmap[i >> 3] |= 1 << (i & 7);
  });
  return { bitmap, nulls };
}

function arrowData(arrow, kind, values) {
  const type = arrowType(arrow, kind);
  const { bitmap, nulls } = validity(values);
  switch (kind) {
    case 'string':
    case 'int32':
    case 'double':
    case 'bool':
      return arrow.vectorFromArray(values, type).data[0];
    case 'timestamp':
    case 'int64': {
      const data = new BigInt64Array(values.length);
      values.forEach((v, i) => (data[i] = v ?? 0n));
      return arrow.makeData({ type, length: values.length, nullCount: nulls, nullBitmap: bitmap, data });
    }
    case 'int64_list':
    case 'double_list': {
      const offsets = new Int32Array(values.length + 1);
      const flat = [];
      values.forEach((v, i) => {
        if (v) flat.push(...v);
        offsets[i + 1] = flat.length;
      });
      const child = kind === 'int64_list'
        ? arrow.makeData({ type: new arrow.Int64(), length: flat.length, nullCount: 0, data: BigInt64Array.from(flat, (n) => BigInt(n)) })
        : arrow.makeData({ type: new arrow.Float64(), length: flat.length, nullCount: 0, data: Float64Array.from(flat) });
      return arrow.makeData({ type, length: values.length, nullCount: nulls, nullBitmap: bitmap, valueOffsets: offsets, child });
    }
    case 'map': {
      const offsets = new Int32Array(values.length + 1);
      const keys = [];
      const cells = [];
      values.forEach((pairs, i) => {
        if (pairs) for (let p = 0; p < pairs.length; p += 2) {
          keys.push(pairs[p]);
          cells.push(pairs[p + 1]);
        }
        offsets[i + 1] = keys.length;
      });
      const entries = type.children[0].type;
      const keyData = arrow.vectorFromArray(keys, new arrow.Utf8()).data[0];
      const valueData = arrow.vectorFromArray(cells, new arrow.Utf8()).data[0];
      const child = arrow.makeData({ type: entries, length: keys.length, nullCount: 0, children: [keyData, valueData] });
      return arrow.makeData({ type, length: values.length, nullCount: nulls, nullBitmap: bitmap, valueOffsets: offsets, child });
    }
  }
}

// DuckDB (in process): rows appended through its Appender into a table, then COPY … TO the Parquet file, ZSTD.
async function duckdbWriter(columns, out) {
  const duck = await import('@duckdb/node-api');
  const instance = await duck.DuckDBInstance.create(':memory:', { threads: '2' });
  const connection = await instance.connect();
  const sqlType = { string: 'VARCHAR', timestamp: 'TIMESTAMP_NS', int64: 'BIGINT', int32: 'INTEGER', double: 'DOUBLE', bool: 'BOOLEAN', map: 'MAP(VARCHAR, VARCHAR)', int64_list: 'BIGINT[]', double_list: 'DOUBLE[]' };
  await connection.run(`CREATE TABLE t (${columns.map((c) => `"${c.name}" ${sqlType[c.kind]}`).join(', ')})`);
  const appender = await connection.createAppender('t');
  return {
    async write(rows) {
      for (const row of rows) {
        for (let i = 0; i < columns.length; i++) {
          const v = row[i];
          if (v === null || v === undefined) {
            appender.appendNull();
            continue;
          }
          switch (columns[i].kind) {
            case 'string': appender.appendVarchar(v); break;
            case 'timestamp': appender.appendTimestampNanoseconds(duck.timestampNanosValue(v)); break;
            case 'int64': appender.appendBigInt(v); break;
            case 'int32': appender.appendInteger(v); break;
            case 'double': appender.appendDouble(v); break;
            case 'bool': appender.appendBoolean(v); break;
            case 'int64_list': appender.appendList(v.map((n) => BigInt(n))); break;
            case 'double_list': appender.appendList(v); break;
            case 'map': {
              const entries = [];
              for (let p = 0; p < v.length; p += 2) entries.push({ key: v[p], value: v[p + 1] });
              appender.appendMap(duck.mapValue(entries), duck.MAP(duck.VARCHAR, duck.VARCHAR));
              break;
            }
          }
        }
        appender.endRow();
      }
    },
    async finish() {
      appender.closeSync();
      await connection.run(`COPY t TO '${out}' (FORMAT parquet, COMPRESSION zstd)`);
      connection.closeSync();
      instance.closeSync();
    },
  };
}

// @dsnp/parquetjs (pure JS, row objects); 1.8.8 is the last version that runs on Node 20. No MAP or nanosecond
// timestamps: maps as JSON text, timestamps as INT64, SNAPPY.
async function parquetjsWriter(columns, out) {
  const { ParquetSchema, ParquetWriter } = await import('@dsnp/parquetjs');
  const types = { string: 'UTF8', timestamp: 'INT64', int64: 'INT64', int32: 'INT32', double: 'DOUBLE', bool: 'BOOLEAN', map: 'UTF8' };
  const definition = {};
  for (const c of columns) {
    if (c.kind.endsWith('_list')) definition[c.name] = { type: c.kind === 'int64_list' ? 'INT64' : 'DOUBLE', repeated: true, compression: 'SNAPPY' };
    else definition[c.name] = { type: types[c.kind], optional: true, compression: 'SNAPPY' };
  }
  const writer = await ParquetWriter.openFile(new ParquetSchema(definition), out, { rowGroupSize: BATCH_ROWS });
  return {
    async write(rows) {
      for (const row of rows) {
        const record = {};
        columns.forEach((c, i) => {
          const v = row[i];
          if (v === null || v === undefined) return;
          record[c.name] = c.kind === 'map' ? JSON.stringify(Object.fromEntries(pairsToEntries(v))) : v;
        });
        await writer.appendRow(record);
      }
    },
    finish: () => writer.close(),
  };
}

// hyparquet-writer (pure JS, columns): a row group per write; no MAP: maps and lists as JSON text, SNAPPY.
async function hyparquetWriter(columns, out) {
  const { ParquetWriter, fileWriter } = await import('hyparquet-writer');
  const types = { string: 'STRING', timestamp: 'INT64', int64: 'INT64', int32: 'INT32', double: 'DOUBLE', bool: 'BOOLEAN', map: 'JSON', int64_list: 'JSON', double_list: 'JSON' };
  const { schemaFromColumnData } = await import('hyparquet-writer');
  let writer = null;
  return {
    async write(rows) {
      const columnData = columns.map((c, i) => ({
        name: c.name,
        type: types[c.kind],
        data: rows.map((row) => {
          const v = row[i] ?? null;
          if (v !== null && c.kind === 'map') return Object.fromEntries(pairsToEntries(v));
          return v;
        }),
      }));
      writer ??= new ParquetWriter({ writer: fileWriter(out), schema: schemaFromColumnData({ columnData }) });
      writer.write({ columnData, rowGroupSize: rows.length });
    },
    async finish() {
      writer.finish();
    },
  };
}

function pairsToEntries(pairs) {
  const entries = [];
  for (let p = 0; p < pairs.length; p += 2) entries.push([pairs[p], pairs[p + 1]]);
  return entries;
}
