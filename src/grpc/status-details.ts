// A status message of bounded size, for every listener. Messages quote what the caller sent (an id, a target, a
// filter) and travel as the grpc-message trailer: C-core clients (Python, C++, …) refuse more than 16 KiB of
// metadata, and a 100 KB trailer once left a grpc-js client's whole connection waiting forever.

/** Bytes of UTF-8 (up to three times that once percent-encoded): a sentence with a quoted value, never a payload. */
export const MAX_DETAILS_BYTES = 1024;

export function boundedDetails(details: string): string {
  if (Buffer.byteLength(details, 'utf8') <= MAX_DETAILS_BYTES) return details;
  // Cut at a code point boundary: a lone surrogate would be encoded as U+FFFD anyway, but stay exact.
  let cut = '';
  let bytes = 0;
  for (const char of details) {
    const size = Buffer.byteLength(char, 'utf8');
    if (bytes + size > MAX_DETAILS_BYTES - 3) break;
    cut += char;
    bytes += size;
  }
  return `${cut}…`;
}
