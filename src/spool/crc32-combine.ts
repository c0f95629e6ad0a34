// CRC-32 (the zlib / gzip polynomial) of a concatenation from the CRCs of its parts, without touching the bytes.
// The spool frame's CRC covers header and payload, while an archive block needs the payload's CRC alone: computing
// the payload's CRC once and combining it with the header's gives both for one pass over the payload.
// Port of zlib's crc32_combine (multmodp / x2nmodp, zlib >= 1.2.12); node:zlib does not expose it.

const POLY = 0xedb88320; // reflected

/** a(x) * b(x) modulo p(x), in the reflected bit order CRC-32 uses. */
function multModP(a: number, b: number): number {
  let m = 0x80000000;
  let p = 0;
  for (;;) {
    if (a & m) {
      p ^= b;
      if ((a & (m - 1)) === 0) break;
    }
    m >>>= 1;
    b = b & 1 ? (b >>> 1) ^ POLY : b >>> 1;
  }
  return p >>> 0;
}

/** x^(2^k) modulo p(x) for k = 0..31. */
const X2N: readonly number[] = (() => {
  const table: number[] = [];
  let p = 0x40000000; // x^1
  table.push(p);
  for (let n = 1; n < 32; n += 1) {
    p = multModP(p, p);
    table.push(p);
  }
  return table;
})();

/** x^(n * 2^k) modulo p(x). */
function x2nModP(n: number, k: number): number {
  let p = 0x80000000; // x^0
  while (n) {
    if (n & 1) p = multModP(X2N[k & 31]!, p);
    n = Math.floor(n / 2);
    k += 1;
  }
  return p;
}

/** CRC-32 of A ‖ B, given crc32(A), crc32(B) and B's length in bytes. */
export function crc32Combine(crcA: number, crcB: number, lengthB: number): number {
  if (lengthB === 0) return crcA >>> 0;
  return (multModP(x2nModP(lengthB, 3), crcA >>> 0) ^ (crcB >>> 0)) >>> 0;
}
