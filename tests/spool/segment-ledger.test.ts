import { describe, expect, it } from '@jest/globals';
import { SegmentLedger } from '../../src/spool/segment-ledger.js';

describe('SegmentLedger', () => {
  it('counts releases once, ignores unknown offsets, and knows where records end', () => {
    const ledger = new SegmentLedger(1, false);
    const offsets: number[] = [];
    for (let i = 0; i < 200; i += 1) {
      offsets.push(ledger.size);
      ledger.add(ledger.size, 10 + i, 1_000 + i);
    }
    expect(ledger.recordCount).toBe(200);
    expect(ledger.recordEnd(offsets[5]!)).toBe(offsets[6]);
    expect(ledger.recordEnd(offsets[199]!)).toBe(ledger.size);
    expect(ledger.release(offsets[3]!)).toBe(true);
    expect(ledger.release(offsets[3]!)).toBe(false);
    expect(ledger.release(offsets[3]! + 1)).toBe(false);
    expect(ledger.isReleased(offsets[3]!)).toBe(true);
    expect(ledger.isReleased(offsets[4]!)).toBe(false);
    expect(ledger.unreleasedCount).toBe(199);
    expect(ledger.fullyReleased).toBe(false);
  });

  it('reports the receive time of the first unreleased record', () => {
    const ledger = new SegmentLedger(1, true);
    ledger.add(0, 10, 500);
    ledger.add(10, 10, 600);
    ledger.add(20, 10, 700);
    expect(ledger.oldestUnreleasedReceivedAtMs()).toBe(500);
    ledger.release(10);
    expect(ledger.oldestUnreleasedReceivedAtMs()).toBe(500);
    ledger.release(0);
    expect(ledger.oldestUnreleasedReceivedAtMs()).toBe(700);
    ledger.release(20);
    expect(ledger.oldestUnreleasedReceivedAtMs()).toBeUndefined();
    expect(ledger.fullyReleased).toBe(true);
  });

  it('refuses a record that does not start where the previous one ended', () => {
    const ledger = new SegmentLedger(1, false);
    ledger.add(0, 10, 1);
    expect(() => ledger.add(11, 5, 1)).toThrow();
  });
});
