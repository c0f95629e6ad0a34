import { decodeBody } from '../../src/compression/body-decoder.js';
import { encodeBody } from '../../src/compression/encode.js';
import { SNAPPY_STREAM_IDENTIFIER } from '../../src/compression/snappy-codec.js';
import { WIRE_ENCODINGS } from '../../src/compression/wire-encoding.js';
import { InvalidArgumentError } from '../../src/errors.js';
import { logsPayload } from '../helpers/otlp-payloads.js';

const raw = Buffer.from(logsPayload(7, 300).proto);

test.each(WIRE_ENCODINGS)('%s: what encodeBody writes, decodeBody reads back', async (encoding) => {
  const encoded = await encodeBody(encoding, raw);
  if (encoding !== 'identity') expect(encoded.length).toBeLessThan(raw.length);
  expect((await decodeBody(encoding, encoded, raw.length)).equals(raw)).toBe(true);
});

test('levels change the output; snappy framed starts with the stream identifier; bad zstd levels are refused', async () => {
  expect((await encodeBody('zstd', raw, { level: 19 })).length).toBeLessThan((await encodeBody('zstd', raw, { level: 1 })).length);
  expect((await encodeBody('gzip', raw, { level: 9 })).length).toBeLessThan((await encodeBody('gzip', raw, { level: 1 })).length);
  const framed = await encodeBody('snappy', raw, { snappyFramed: true });
  expect(framed.subarray(0, 10).equals(SNAPPY_STREAM_IDENTIFIER)).toBe(true);
  expect((await decodeBody('snappy', framed, raw.length)).equals(raw)).toBe(true);
  await expect(encodeBody('zstd', raw, { level: 0 })).rejects.toBeInstanceOf(InvalidArgumentError);
});
