// OTLP/JSON converted on the worker thread (src/otlp/json-workers.ts) against the synchronous parseOtlpJson: the same
// protobuf bytes, the same MalformedPayloadError text, and a worker that dies failing its jobs retryably without
// taking the pool with it. The worker runs the build's dist/otlp/json-worker.js (`npm run build` first).
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { MalformedPayloadError } from '../../src/errors.js';
import type { Signal } from '../../src/model.js';
import { parseOtlpJson } from '../../src/otlp/json.js';
import {
  closeJsonWorkers,
  INLINE_BELOW_BYTES,
  JsonWorkerLostError,
  JsonWorkerPool,
  jsonWorkerUrl,
  parseOtlpJsonOffThread,
} from '../../src/otlp/json-workers.js';
import { toHttpError } from '../../src/receiver/http-errors.js';
import { payloadFor, traceRequestOfSize } from '../helpers/otlp-payloads.js';

const pool = new JsonWorkerPool();

let bigBody: Buffer | undefined;
/** ~2.5 MiB of OTLP/JSON: its conversion takes far longer than a terminate() that follows its postMessage. */
function big(): Buffer {
  bigBody ??= Buffer.from(JSON.stringify(traceRequestOfSize(2 ** 20, 7).json));
  return bigBody;
}

afterAll(async () => {
  await pool.close();
  await closeJsonWorkers();
});

/** What the synchronous path throws for `body` (it must throw). */
function syncError(signal: Signal, body: Buffer): Error {
  try {
    parseOtlpJson(signal, body);
  } catch (error) {
    return error as Error;
  }
  throw new Error('parseOtlpJson accepted a body the test expects it to refuse');
}

test('the worker entry resolves to the compiled file: dist/ from src/ (this test), the sibling file when compiled', () => {
  expect(fileURLToPath(jsonWorkerUrl())).toBe(fileURLToPath(new URL('../../dist/otlp/json-worker.js', import.meta.url)));
  expect(fs.existsSync(jsonWorkerUrl())).toBe(true);
  expect(jsonWorkerUrl('file:///srv/app/dist/otlp/json-workers.js').href).toBe('file:///srv/app/dist/otlp/json-worker.js');
});

test.each(['traces', 'metrics', 'logs'] as const)('%s: the worker encodes exactly what parseOtlpJson does', async (signal) => {
  const body = Buffer.from(JSON.stringify(payloadFor(signal, 5).json));
  const expected = parseOtlpJson(signal, body);
  expect(expected.length).toBeGreaterThan(100);
  expect((await pool.run(signal, body)).equals(expected)).toBe(true);
});

test('a body that is a view into a larger buffer: only its bytes are converted, and the caller keeps them', async () => {
  const json = Buffer.from(JSON.stringify(traceRequestOfSize(64 * 1024, 3).json));
  const backing = Buffer.alloc(json.length + 200, 0x5b); // "[[[…" around it: converted by mistake, it would fail
  json.copy(backing, 100);
  const body = backing.subarray(100, 100 + json.length);
  expect(body.length).toBeGreaterThanOrEqual(INLINE_BELOW_BYTES);
  const output = await parseOtlpJsonOffThread('traces', body);
  expect(output.equals(parseOtlpJson('traces', json))).toBe(true);
  // Moved to the worker as a copy: the caller's Buffer is neither detached nor changed.
  expect(body.length).toBe(json.length);
  expect(body.equals(json)).toBe(true);
});

test('small bodies too: parseOtlpJsonOffThread gives parseOtlpJson\'s bytes on either side of the inline threshold', async () => {
  const bodies = [Buffer.from('{"resourceLogs":[]}'), Buffer.from(JSON.stringify(payloadFor('logs', 9).json))];
  expect(bodies.map((body) => body.length >= INLINE_BELOW_BYTES)).toEqual([false, true]);
  for (const body of bodies) {
    expect((await parseOtlpJsonOffThread('logs', body)).equals(parseOtlpJson('logs', body))).toBe(true);
  }
});

const padding = ' '.repeat(INLINE_BELOW_BYTES);
test.each([
  ['not JSON', 'traces', `{"resourceSpans": [${padding}`],
  ['invalid UTF-8', 'logs', Buffer.concat([Buffer.from(`{"resourceLogs":[]${padding}`), Buffer.from([0xff, 0xfe]), Buffer.from('}')])],
  ['a field of the wrong type', 'metrics', `{"resourceMetrics": [{"scopeMetrics": "x"}]}${padding}`],
  ['nesting too deep', 'traces', `${'['.repeat(300)}${padding}`],
  ['a bad trace id', 'traces', `{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"zz","spanId":"0102030405060708"}]}]}]}${padding}`],
] as const)('%s: MalformedPayloadError with the synchronous path\'s message', async (_what, signal, text) => {
  const body = Buffer.isBuffer(text) ? text : Buffer.from(text);
  expect(body.length).toBeGreaterThanOrEqual(INLINE_BELOW_BYTES);
  const expected = syncError(signal, body);
  expect(expected).toBeInstanceOf(MalformedPayloadError);
  for (const run of [() => pool.run(signal, body), () => parseOtlpJsonOffThread(signal, body)]) {
    const error = await run().then(
      () => null,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(MalformedPayloadError);
    expect((error as Error).message).toBe(expected.message);
    expect(toHttpError(error, 1000).httpStatus).toBe(400);
  }
});

test('a worker that dies fails its jobs with a retryable error; jobs waiting behind it and later ones are converted', async () => {
  const small = Buffer.from(JSON.stringify(payloadFor('traces', 8).json));
  const expectedSmall = parseOtlpJson('traces', small);
  await pool.run('traces', small); // the worker is up and has converted once
  // Two jobs go to the worker at once, the third waits in the pool.
  const outcomes = [pool.run('traces', big()), pool.run('traces', big()), pool.run('traces', small)].map((job) =>
    job.then(
      (output) => ({ output }),
      (error: unknown) => ({ error }),
    ),
  );
  await pool.terminateWorkersForTest();
  const [first, second, third] = await Promise.all(outcomes);
  for (const lost of [first, second]) {
    expect(lost).toHaveProperty('error');
    const error = (lost as { error: unknown }).error;
    expect(error).toBeInstanceOf(JsonWorkerLostError);
    const mapped = toHttpError(error, 1000);
    expect([mapped.httpStatus, mapped.retryAfterMs]).toEqual([503, 1000]);
  }
  expect((third as { output?: Buffer }).output?.equals(expectedSmall)).toBe(true);
  expect((await pool.run('traces', small)).equals(expectedSmall)).toBe(true);
});

test('close() fails what is queued; the next job starts a new worker', async () => {
  const small = Buffer.from(JSON.stringify(payloadFor('metrics', 4).json));
  const job = pool.run('traces', big()).then(
    () => null,
    (error: unknown) => error,
  );
  await pool.close();
  expect(await job).toBeInstanceOf(JsonWorkerLostError);
  expect((await pool.run('metrics', small)).equals(parseOtlpJson('metrics', small))).toBe(true);
});
