// grpc-js gzips every outgoing message itself (zlib.gzip at the default level, on the libuv threadpool). Done per
// call, ~1 MiB at a time, that costs the load generator about as much CPU as the server spends receiving, and both
// share this machine's two cores. So the load generator registers each request's gzip once, up front, and this hook
// hands grpc-js the registered bytes when it asks zlib to gzip that very Buffer. The bytes on the wire are exactly
// what grpc-js would have produced (same zlib, same level), framed and flagged by grpc-js as usual.
import zlib from 'node:zlib';

type GzipCallback = (error: Error | null, result: Buffer) => void;
type Gzip = (buffer: zlib.InputType, optionsOrCallback: zlib.ZlibOptions | GzipCallback, callback?: GzipCallback) => void;

const registered = new WeakMap<object, Buffer>();
let installed = false;

export const gzipCalls = { precompressed: 0, computed: 0 };

/** Gzips `raw` now (as grpc-js would) and serves that result whenever zlib.gzip is asked for `raw` again. */
export function registerPrecompressed(raw: Buffer): Buffer {
  const gzipped = zlib.gzipSync(raw);
  registered.set(raw, gzipped);
  return gzipped;
}

export function installPrecompressedGzip(): void {
  if (installed) return;
  installed = true;
  const module = zlib as unknown as { gzip: Gzip };
  const original = module.gzip;
  module.gzip = (buffer, optionsOrCallback, callback) => {
    const cached = typeof optionsOrCallback === 'function' ? registered.get(buffer as object) : undefined;
    if (cached !== undefined && typeof optionsOrCallback === 'function') {
      gzipCalls.precompressed += 1;
      const done = optionsOrCallback;
      process.nextTick(() => done(null, cached));
      return;
    }
    gzipCalls.computed += 1;
    original(buffer, optionsOrCallback, callback);
  };
}
