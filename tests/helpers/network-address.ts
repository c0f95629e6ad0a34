// An address of this machine that is not loopback, for tests of what a caller from the network may do: a connection
// from this machine to it arrives with that address as its peer, exactly as one from another host would.
import os from 'node:os';

export function nonLoopbackAddress(): string {
  for (const addresses of Object.values(os.networkInterfaces())) {
    for (const address of addresses ?? []) {
      if (address.family === 'IPv4' && !address.internal) return address.address;
    }
  }
  throw new Error('this machine has no IPv4 address other than loopback: the network-caller tests need one');
}
