// Loopback: listen hosts from configuration, and peers as Node reports a connection's remote address.
import { isLoopbackHost, isLoopbackPeer } from '../../src/util/loopback.js';

test.each([
  ['127.0.0.1', true],
  ['127.1.2.3', true],
  ['localhost', true],
  ['LOCALHOST', true],
  ['::1', true],
  ['0.0.0.0', false],
  ['::', false],
  ['10.0.0.1', false],
  ['capture.internal', false],
  ['127.0.0.1.evil.com', false],
] as const)('listen host %s is loopback: %s', (host, loopback) => {
  expect(isLoopbackHost(host)).toBe(loopback);
});

test.each([
  ['127.0.0.1', true],
  ['127.45.6.7', true],
  ['::1', true],
  ['::ffff:127.0.0.1', true],
  ['::FFFF:127.0.0.1', true],
  ['10.0.0.1', false],
  ['192.0.2.2', false],
  ['::ffff:10.0.0.1', false],
  ['::ffff:7f00:1', false],
  ['fe80::1', false],
  ['::', false],
  ['localhost', false],
  ['127.0.0.1.evil.com', false],
  [undefined, false],
] as const)('peer %s is loopback: %s', (address, loopback) => {
  expect(isLoopbackPeer(address)).toBe(loopback);
});
