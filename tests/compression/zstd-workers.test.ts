// The zstd worker pool: jobs posted ahead to a busy worker (JOBS_PER_WORKER) still come back to the right caller,
// and background work (retention re-encoding) never starts ahead of waiting normal work (the archiver).
import * as zstd from 'zstd-napi';
import { JOBS_PER_WORKER, ZstdWorkerPool, type ZstdPriority } from '../../src/compression/zstd-workers.js';
import { logsPayload, traceRequestOfSize } from '../helpers/otlp-payloads.js';

const inputFor = (bytes: Uint8Array): ArrayBuffer => {
  const copy = new Uint8Array(bytes.length);
  copy.set(bytes);
  return copy.buffer;
};

test('many jobs in flight on few workers: every caller gets the frame of its own input', async () => {
  const pool = new ZstdWorkerPool(2);
  try {
    const inputs = Array.from({ length: 24 }, (_, i) => Buffer.from(logsPayload(i + 1, 20 + i * 7).proto));
    const frames = await Promise.all(inputs.map((input) => pool.run({ op: 'compress', input: inputFor(input), level: 1 })));
    frames.forEach((frame, i) => expect(Buffer.from(zstd.decompress(frame)).equals(inputs[i]!)).toBe(true));
    // And the way back: decompression to an exact length, interleaved.
    const back = await Promise.all(frames.map((frame, i) => pool.run({ op: 'decompress', input: inputFor(frame), rawLength: inputs[i]!.length })));
    back.forEach((raw, i) => expect(raw.equals(inputs[i]!)).toBe(true));
  } finally {
    await pool.close();
  }
});

test('a worker takes a second normal job while busy, but background jobs wait behind every normal one', async () => {
  expect(JOBS_PER_WORKER).toBeGreaterThanOrEqual(2);
  const pool = new ZstdWorkerPool(1);
  const big = Buffer.from(traceRequestOfSize(4 << 20, 3).proto);
  const small = Buffer.from(logsPayload(5, 50).proto);
  const done: string[] = [];
  const job = (name: string, input: Buffer, level: number, priority: ZstdPriority): Promise<void> =>
    pool.run({ op: 'compress', input: inputFor(input), level }, priority).then(() => void done.push(name));
  try {
    // The first job keeps the only worker busy (level 19 on a large request) while the rest are queued.
    const all = [
      job('first', big, 19, 'normal'),
      job('background-1', small, 1, 'background'),
      job('background-2', small, 1, 'background'),
      job('normal-1', small, 1, 'normal'),
      job('normal-2', small, 1, 'normal'),
      job('normal-3', small, 1, 'normal'),
    ];
    await Promise.all(all);
    expect(done).toEqual(['first', 'normal-1', 'normal-2', 'normal-3', 'background-1', 'background-2']);
  } finally {
    await pool.close();
  }
});

test('close() fails every job still queued or posted', async () => {
  const pool = new ZstdWorkerPool(1);
  const big = Buffer.from(traceRequestOfSize(1 << 20, 4).proto);
  const jobs = Array.from({ length: 4 }, () => pool.run({ op: 'compress', input: inputFor(big), level: 19 }));
  const settled = Promise.allSettled(jobs);
  await pool.close();
  const outcomes = await settled;
  expect(outcomes.some((outcome) => outcome.status === 'rejected')).toBe(true);
});
