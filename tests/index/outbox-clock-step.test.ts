// Rows queued before the wall clock stepped back look as if queued in the future: the flusher must still write them
// within one batch interval (it waited out the whole step before), and the outbox lag must not go negative or jump.
import { afterEach, expect, it } from '@jest/globals';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { OutboxFlusher } from '../../src/index/clickhouse-flusher.js';
import { IndexOutbox, type OutboxBatch } from '../../src/index/index-outbox.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'outbox-clock-step-'));
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

it('rows stamped an hour ahead of the clock (it stepped back since) are written within a batch interval', async () => {
  const outbox = IndexOutbox.openForWriting(path.join(dir, 'outbox.sqlite'));
  const written: string[][] = [];
  let wrote: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (wrote = resolve));
  const flusher = new OutboxFlusher(
    outbox,
    {
      prepare: async () => undefined,
      write: async (batch: OutboxBatch) => {
        written.push(batch.objectKeys);
        wrote();
      },
      classify: () => 'retry',
    },
    { batchRows: 1000, batchIntervalMs: 200, maxBatchRows: 10_000, retryInitialBackoffMs: 50, retryMaxBackoffMs: 100 },
    { onAvailable: () => undefined, onFailure: () => undefined, onSetAside: () => undefined },
  );
  try {
    outbox.append({ objectKey: 'k1', objectRow: '{}', requests: [{ id: 'a', row: '{}' }], traces: [] }, Date.now() + 3_600_000);
    flusher.start(true);
    const started = Date.now();
    await Promise.race([done, new Promise((resolve) => setTimeout(resolve, 5_000))]);
    expect(written).toEqual([['k1']]);
    expect(Date.now() - started).toBeLessThan(5_000);
  } finally {
    await flusher.stop();
    outbox.close();
  }
});
