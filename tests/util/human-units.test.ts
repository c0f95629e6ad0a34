import { describe, expect, it } from '@jest/globals';
import { formatBytes, formatCount, formatDuration } from '../../src/util/human-units.js';

describe('human units', () => {
  it('formats sizes in binary units with one decimal above bytes', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(1023)).toBe('1023 B');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(64 * 1024 * 1024)).toBe('64.0 MiB');
    expect(formatBytes(3 * 1024 ** 5)).toBe('3072.0 TiB');
  });

  it('formats durations as a message reads them', () => {
    expect(formatDuration(-5)).toBe('0ms');
    expect(formatDuration(250)).toBe('250ms');
    expect(formatDuration(1500)).toBe('1.5s');
    expect(formatDuration(2000)).toBe('2s');
    expect(formatDuration(754_000)).toBe('12m34s');
    expect(formatDuration(3_600_000)).toBe('1h');
    expect(formatDuration(49 * 3_600_000)).toBe('2d1h');
  });

  it('groups counts by thousands', () => {
    expect(formatCount(12_345)).toBe('12,345');
  });
});
