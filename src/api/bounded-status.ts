// Every status the API listener sends carries a message of bounded size. Messages quote what the caller sent (an id,
// a target, a filter), and a status message travels as the grpc-message trailer: a GetRequest for a 100 KB id once
// came back as a 100 KB trailer, which C-core clients (Python, C++, …) refuse beyond 16 KiB of metadata and which
// left a grpc-js client's whole connection waiting forever. One interceptor, closest to the transport, bounds them
// all — handlers, the access check and grpc-js' own statuses alike.
import * as grpc from '@grpc/grpc-js';

/** Bytes of UTF-8 (up to three times that once percent-encoded): a sentence with a quoted value, never a payload. */
export const MAX_DETAILS_BYTES = 1024;

export function boundedDetails(details: string): string {
  if (Buffer.byteLength(details, 'utf8') <= MAX_DETAILS_BYTES) return details;
  // Cut at a code point boundary: a lone surrogate would be encoded as U+FFFD anyway, but stay exact.
  let cut = '';
  for (const char of details) {
    if (Buffer.byteLength(cut + char, 'utf8') > MAX_DETAILS_BYTES - 3) break;
    cut += char;
  }
  return `${cut}…`;
}

export function boundedStatusInterceptor(): grpc.ServerInterceptor {
  return (_method, call) =>
    new grpc.ServerInterceptingCall(call, {
      sendStatus: (status, next) => {
        next(status.details === undefined ? status : { ...status, details: boundedDetails(status.details) });
      },
    });
}
