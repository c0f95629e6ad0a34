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

test('pooled compression inputs: a buffer reused for a smaller or larger input never leaks bytes of another job', async () => {
  const pool = new ZstdWorkerPool(1);
  const EMPTY = new ArrayBuffer(0);
  try {
    // Sizes go up and down so that inputs land in buffers left by larger jobs and force new ones for larger jobs.
    const sizes = [300_000, 2_000, 1_200_000, 70_000, 1, 0, 800_000, 5_000, 3_000_000, 64 * 1024, 64 * 1024 + 1];
    const inputs = sizes.map((size, i) => Buffer.alloc(size, i + 1));
    for (let round = 0; round < 2; round++) {
      const frames = await Promise.all(inputs.map((raw) => pool.run({ op: 'compress', input: EMPTY, raw, level: 1 })));
      frames.forEach((frame, i) => {
        const back = Buffer.from(zstd.decompress(frame));
        expect(back.length).toBe(inputs[i]!.length);
        expect(back.equals(inputs[i]!)).toBe(true);
      });
    }
    // The caller's buffer is only read, never moved away: it is still whole after its job.
    expect(inputs[2]!.length).toBe(1_200_000);
    expect(inputs[2]![1_199_999]).toBe(3);
  } finally {
    await pool.close();
  }
});
