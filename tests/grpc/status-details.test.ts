// Status messages are bounded on every listener: the API's interceptor and the Export listener's trailers both cut
// a long message to MAX_DETAILS_BYTES of UTF-8, at a code point boundary.
import { boundedDetails, MAX_DETAILS_BYTES } from '../../src/grpc/status-details.js';
import { statusTrailers } from '../../src/receiver/grpc/grpc-response.js';

test('short messages are unchanged; long ones are cut to the bound and marked', () => {
  expect(boundedDetails('request 01J… not found')).toBe('request 01J… not found');
  const cut = boundedDetails(`id ${'x'.repeat(100_000)}`);
  expect(Buffer.byteLength(cut, 'utf8')).toBeLessThanOrEqual(MAX_DETAILS_BYTES);
  expect(cut.startsWith('id xxx')).toBe(true);
  expect(cut.endsWith('…')).toBe(true);
});

test('a cut never splits a character, even one of four bytes', () => {
  const cut = boundedDetails('🙂'.repeat(1000));
  expect(Buffer.byteLength(cut, 'utf8')).toBeLessThanOrEqual(MAX_DETAILS_BYTES);
  expect(cut).toMatch(/^(🙂)+…$/u);
});

test('the Export listener sends a bounded grpc-message trailer', () => {
  const trailers = statusTrailers({ code: 3, details: `bad tenant "${'é'.repeat(50_000)}"` });
  const message = String(trailers['grpc-message']);
  expect(decodeURIComponent(message).startsWith('bad tenant "éé')).toBe(true);
  expect(Buffer.byteLength(decodeURIComponent(message), 'utf8')).toBeLessThanOrEqual(MAX_DETAILS_BYTES);
});
