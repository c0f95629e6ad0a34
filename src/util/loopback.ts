// Loopback, for listen addresses (configuration) and for peers (a connection's remote address). Loopback is the host
// itself — or, in Kubernetes, the Pod's own containers — never "the network".

const IPV4_LOOPBACK = /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/;
const IPV4_MAPPED_PREFIX = '::ffff:';

/** 127.0.0.0/8, ::1 and localhost. Names other than localhost may resolve anywhere: not loopback. */
export function isLoopbackHost(host: string): boolean {
  const lower = host.toLowerCase();
  return lower === 'localhost' || lower === '::1' || IPV4_LOOPBACK.test(lower);
}

/**
 * A peer address as Node reports it (`socket.remoteAddress`): 127.0.0.0/8, ::1, or an IPv4 loopback address mapped
 * into IPv6 (`::ffff:127.0.0.1`, what a dual-stack listener reports). Unknown (a closed socket): not loopback.
 */
export function isLoopbackPeer(address: string | undefined): boolean {
  if (address === undefined) return false;
  const lower = address.toLowerCase();
  if (lower === '::1') return true;
  const ipv4 = lower.startsWith(IPV4_MAPPED_PREFIX) ? lower.slice(IPV4_MAPPED_PREFIX.length) : lower;
  return IPV4_LOOPBACK.test(ipv4);
}
