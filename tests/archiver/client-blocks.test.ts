// When the archiver stores a client's compressed body as the block: only once it knows what its own blocks of that
// signal come to, only when the client's stores at most KEEP_SLACK more, never for one in SAMPLE_EVERY (which it
// compresses to keep its ratio current), never when switched off or when the archive codec is none.
import zlib from 'node:zlib';
import { ClientBlockPolicy, KEEP_SLACK, SAMPLE_EVERY } from '../../src/archiver/client-blocks.js';
import { instrumentedTraceRequestOfSize } from '../helpers/instrumented-traces.js';

const raw = Buffer.from(instrumentedTraceRequestOfSize(200_000, 5).proto);
const crc = zlib.crc32(raw);
const gzipped = zlib.gzipSync(raw, { level: 6 });
const wire = { encoding: 'gzip', bytes: gzipped };
const ratio = gzipped.length / raw.length;

test('nothing is kept before the archiver has compressed a request of that signal itself', () => {
  const policy = new ClientBlockPolicy(true, 'zstd');
  expect(policy.choose('traces', wire, raw.length, crc)).toBeNull();
  policy.observe('logs', Math.round(raw.length * ratio), raw.length);
  expect(policy.choose('traces', wire, raw.length, crc)).toBeNull();
  policy.observe('traces', Math.round(raw.length * ratio), raw.length);
  expect(policy.choose('traces', wire, raw.length, crc)?.bytes).toBe(gzipped);
});

test('kept only within the slack of the archiver\'s own ratio; one in SAMPLE_EVERY is compressed anyway', () => {
  const policy = new ClientBlockPolicy(true, 'zstd');
  // The archiver's own blocks come to a bit less than the slack allows for this body: kept.
  policy.observe('traces', Math.ceil((gzipped.length / KEEP_SLACK) * 1.01), raw.length);
  const choices = Array.from({ length: 3 * SAMPLE_EVERY }, () => policy.choose('traces', wire, raw.length, crc));
  const compressedHere = choices.filter((c) => c === null).length;
  expect(compressedHere).toBe(3);
  // Its own blocks are much smaller: the client's (a fast level, say) is not kept.
  const strict = new ClientBlockPolicy(true, 'zstd');
  strict.observe('traces', Math.floor((gzipped.length / KEEP_SLACK) * 0.9), raw.length);
  expect(Array.from({ length: SAMPLE_EVERY }, () => strict.choose('traces', wire, raw.length, crc)).every((c) => c === null)).toBe(true);
});

test('switched off, archive codec none, no wire body, an empty request or a body that cannot stand alone: compressed here', () => {
  for (const policy of [new ClientBlockPolicy(false, 'zstd'), new ClientBlockPolicy(true, 'none')]) {
    policy.observe('traces', 1, raw.length);
    expect(policy.choose('traces', wire, raw.length, crc)).toBeNull();
  }
  const policy = new ClientBlockPolicy(true, 'zstd');
  policy.observe('traces', raw.length, raw.length);
  expect(policy.choose('traces', undefined, raw.length, crc)).toBeNull();
  expect(policy.choose('traces', wire, 0, 0)).toBeNull();
  expect(policy.choose('traces', { encoding: 'gzip', bytes: Buffer.concat([gzipped, Buffer.from('!')]) }, raw.length, crc)).toBeNull();
  expect(policy.choose('traces', wire, raw.length, crc)?.codec).toBe('gzip');
});
