// A fault-injecting TCP proxy on 127.0.0.1 for gRPC (HTTP/2 over cleartext): it forwards both directions as they
// are, except that it drops the first N responses — the first time the server sends a HEADERS frame on a stream (the
// start of an answer) on a connection, the proxy throws that frame away and cuts the connection instead. The server
// has acknowledged (the request is durable); the client never hears it and sees UNAVAILABLE: a lost acknowledgement,
// as a Collector restart or a load balancer reset makes one.
import net from 'node:net';

export interface AckDroppingProxy {
  address: string;
  /** Acknowledgements dropped so far. */
  dropped(): number;
  close(): Promise<void>;
}

const FRAME_HEADER = 9;
const HEADERS_FRAME = 0x1;

export async function startAckDroppingProxy(upstream: { host: string; port: number }, dropFirst = 1): Promise<AckDroppingProxy> {
  let dropped = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const server = net.connect(upstream.port, upstream.host);
    for (const socket of [client, server]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => undefined);
    }
    client.pipe(server);
    // Server → client: parsed frame by frame, forwarded whole frames at a time.
    let pending = Buffer.alloc(0);
    server.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      let forward = 0;
      while (pending.length - forward >= FRAME_HEADER) {
        const length = pending.readUIntBE(forward, 3);
        const type = pending[forward + 3]!;
        const stream = pending.readUInt32BE(forward + 5) & 0x7fffffff;
        if (type === HEADERS_FRAME && stream !== 0 && dropped < dropFirst) {
          dropped += 1;
          if (forward > 0) client.write(pending.subarray(0, forward));
          pending = Buffer.alloc(0);
          client.destroy();
          server.destroy();
          return;
        }
        if (pending.length - forward < FRAME_HEADER + length) break;
        forward += FRAME_HEADER + length;
      }
      if (forward > 0) {
        client.write(pending.subarray(0, forward));
        pending = pending.subarray(forward);
      }
    });
    server.on('end', () => client.end());
    client.on('end', () => server.end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    address: `127.0.0.1:${port}`,
    dropped: () => dropped,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
