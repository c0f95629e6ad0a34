import { PassThrough } from 'node:stream';
import { bar, etaText, formatBytes, formatDuration, progressDisplay } from '../../src/cli/progress.js';

function stream(isTTY: boolean, columns = 100): NodeJS.WriteStream & { text(): string } {
  const out = new PassThrough() as unknown as NodeJS.WriteStream & { text(): string };
  let text = '';
  (out as unknown as PassThrough).on('data', (chunk: Buffer) => (text += chunk.toString()));
  Object.assign(out, { isTTY, columns, text: () => text });
  return out;
}

test('a terminal gets one bar redrawn in place, at most every 100 ms, ending with a newline', () => {
  let now = 0;
  const out = stream(true);
  const display = progressDisplay(out, 'replay', () => now);
  display.update({ fraction: 0.25, text: '1/4 requests' });
  now = 50;
  display.update({ fraction: 0.5, text: '2/4 requests' }); // too soon: skipped
  now = 150;
  display.update({ fraction: 0.75, text: '3/4 requests' });
  display.finish({ fraction: 1, text: '4/4 requests' });
  const text = out.text();
  expect(text.split('\r\x1b[2K').filter((part) => part !== '')).toEqual([
    expect.stringMatching(/^\[#+\.+\]  25% 1\/4 requests$/),
    expect.stringMatching(/^\[#+\.+\]  75% 3\/4 requests$/),
    expect.stringMatching(/^\[#+\]\s+100% 4\/4 requests\n$/),
  ]);
});

test('a pipe gets plain lines, at most one every 2 s, and always the last', () => {
  let now = 0;
  const out = stream(false);
  const display = progressDisplay(out, 'replay', () => now);
  display.update({ fraction: 0.1, text: 'a' });
  now = 2500;
  display.update({ fraction: 0.2, text: 'b' });
  now = 3000;
  display.update({ fraction: 0.3, text: 'c' });
  display.finish({ fraction: 1, text: 'd' });
  expect(out.text()).toBe('replay: b\nreplay: d\n');
});

test('bar, ETA and units', () => {
  expect(bar(0.5, 10)).toBe('[#####.....]  50%');
  expect(bar(2, 4)).toBe('[####] 100%');
  expect(bar(Number.NaN, 4)).toBe('[....]   0%');
  expect(etaText(10_000, 0.5)).toBe(', ETA 10s');
  expect(etaText(10_000, 0)).toBe('');
  expect(etaText(10_000, 1)).toBe('');
  expect(formatBytes(512)).toBe('512 B');
  expect(formatBytes(3 * 2 ** 20)).toBe('3.0 MiB');
  expect(formatDuration(1500)).toBe('1.5s');
  expect(formatDuration(125_000)).toBe('2m05s');
});
