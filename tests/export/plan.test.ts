import { LastIdRanges, requestHours } from '../../src/export/plan.js';
import { hourOf, parsePartitionPath, partitionPath } from '../../src/export/partition.js';

const HOUR = 3_600_000_000_000n;

describe('LastIdRanges', () => {
  it('keeps, for every hour, the last id assigned to a range covering it', () => {
    const ranges = new LastIdRanges();
    ranges.assign(10, 12, 'a');
    ranges.assign(11, 11, 'b');
    ranges.assign(12, 15, 'c');
    ranges.assign(5, 6, 'd');
    expect(ranges.ranges).toEqual([
      { from: 5, to: 6, lastId: 'd' },
      { from: 10, to: 10, lastId: 'a' },
      { from: 11, to: 11, lastId: 'b' },
      { from: 12, to: 15, lastId: 'c' },
    ]);
    ranges.assign(0, 100, 'e');
    expect(ranges.ranges).toEqual([{ from: 0, to: 100, lastId: 'e' }]);
  });

  it('agrees with a brute-force map over random assignments', () => {
    let seed = 7;
    const random = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const ranges = new LastIdRanges();
    const brute = new Map<number, string>();
    for (let i = 0; i < 500; i++) {
      const from = random(200);
      const to = from + random(i % 7 === 0 ? 60 : 4);
      const id = `r${String(i).padStart(4, '0')}`;
      ranges.assign(from, to, id);
      for (let h = from; h <= to; h++) brute.set(h, id);
      // Disjoint and sorted, always.
      for (let j = 1; j < ranges.ranges.length; j++) expect(ranges.ranges[j]!.from).toBeGreaterThan(ranges.ranges[j - 1]!.to);
    }
    for (let h = 0; h < 270; h++) expect(ranges.lastIdAt(h)).toBe(brute.get(h));
  });
});

describe('requestHours', () => {
  const at = (iso: string): bigint => BigInt(Date.parse(iso)) * 1_000_000n;
  it('spans every hour of the data for Parquet, only the first for OTLP JSON', () => {
    const request = { startNs: at('2024-03-01T10:59:30Z'), endNs: at('2024-03-01T12:00:00Z') };
    const first = hourOf(request.startNs);
    expect(requestHours(request, 'parquet')).toEqual([first, first + 2]);
    expect(requestHours(request, 'otlp-json')).toEqual([first, first]);
  });
});

describe('partitions', () => {
  it('floors to the hour, also before 1970', () => {
    expect(hourOf(0n)).toBe(0);
    expect(hourOf(HOUR - 1n)).toBe(0);
    expect(hourOf(HOUR)).toBe(1);
    expect(hourOf(-1n)).toBe(-1);
    expect(hourOf(-HOUR)).toBe(-1);
    expect(hourOf(-HOUR - 1n)).toBe(-2);
  });

  it('names partitions Hive-style by UTC date and hour, and reads the names back', () => {
    const hour = hourOf(BigInt(Date.parse('2024-03-01T07:15:00Z')) * 1_000_000n);
    const key = { signal: 'logs' as const, tenant: 'acme-1', hour };
    expect(partitionPath(key)).toBe('signal=logs/tenant=acme-1/dt=2024-03-01/hour=07');
    expect(parsePartitionPath(partitionPath(key))).toEqual(key);
    expect(parsePartitionPath('signal=spans/tenant=a/dt=2024-03-01/hour=07')).toBeNull();
    expect(parsePartitionPath('signal=logs/tenant=a/dt=2024-03-01/hour=07/extra')).toBeNull();
  });
});
