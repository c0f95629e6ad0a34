// Hand-built zstd frames for bomb tests: RLE blocks repeat one byte up to 128 KiB each for 4 bytes on the wire, so
// a gibibyte of output takes 32 KiB. Built by hand (RFC 8878 §3.1.1) to control the frame header exactly.
const MAGIC = Buffer.from([0x28, 0xb5, 0x2f, 0xfd]);
const MAX_BLOCK = 128 * 1024;

function rleBlocks(totalBytes: number): Buffer {
  const blocks: Buffer[] = [];
  for (let left = totalBytes; left > 0; ) {
    const size = Math.min(MAX_BLOCK, left);
    left -= size;
    const header = (size << 3) | (1 << 1) | (left === 0 ? 1 : 0); // Block_Type 1 = RLE, Last_Block when done
    blocks.push(Buffer.from([header & 0xff, (header >> 8) & 0xff, (header >> 16) & 0xff, 0x00]));
  }
  return Buffer.concat(blocks);
}

/** A frame with no content size and a 128 KiB window that decodes to `totalBytes` zero bytes. */
export function zstdRleFrameWithoutSize(totalBytes: number): Buffer {
  // Frame_Header_Descriptor 0 (no size, not single segment), Window_Descriptor: exponent 7 → 2^17 bytes.
  return Buffer.concat([MAGIC, Buffer.from([0x00, 7 << 3]), rleBlocks(totalBytes)]);
}

/** The same frame, declaring its content size (4-byte field) in the header. */
export function zstdRleFrameWithSize(totalBytes: number): Buffer {
  const size = Buffer.alloc(4);
  size.writeUInt32LE(totalBytes);
  return Buffer.concat([MAGIC, Buffer.from([0x80, 7 << 3]), size, rleBlocks(totalBytes)]);
}

/** A frame header whose window is 2^windowLog bytes, with no blocks after it. */
export function zstdFrameHeaderWithWindow(windowLog: number): Buffer {
  return Buffer.concat([MAGIC, Buffer.from([0x00, (windowLog - 10) << 3])]);
}
