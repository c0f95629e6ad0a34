// gRPC's length-prefixed messages: 1 byte compressed flag, 4 bytes big-endian length, then the message. The receive
// limit applies to the length on the wire before a byte of the message is buffered.

export const FRAME_HEADER_BYTES = 5;

export interface FramedMessage {
  compressed: boolean;
  bytes: Buffer;
}

export interface FrameHeader {
  compressed: boolean;
  length: number;
}

export type FramingProblem = 'too_large' | 'bad_flag';

export class FramingError extends Error {
  constructor(readonly problem: FramingProblem, message: string) {
    super(message);
  }
}

/** The header of the first message, read from chunks that may split it; null while fewer than 5 bytes arrived. */
export function peekFrameHeader(chunks: readonly Buffer[]): FrameHeader | null {
  const head = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
  let filled = 0;
  for (const chunk of chunks) {
    filled += chunk.copy(head, filled, 0, Math.min(chunk.length, FRAME_HEADER_BYTES - filled));
    if (filled === FRAME_HEADER_BYTES) return parseHeader(head, 0);
  }
  return null;
}

function parseHeader(buffer: Buffer, offset: number): FrameHeader {
  const flag = buffer[offset] as number;
  if (flag > 1) throw new FramingError('bad_flag', `invalid gRPC message flag ${flag} (expected 0 or 1)`);
  return { compressed: flag === 1, length: buffer.readUInt32BE(offset + 1) };
}

function tooLarge(length: number, maxBytes: number): FramingError {
  return new FramingError('too_large', `request message of ${length} bytes is larger than the limit of ${maxBytes} bytes`);
}

/**
 * Splits a request body into messages as its chunks arrive. Each message is copied once, into a buffer of its exact
 * size allocated when its header is complete; a length over the limit throws before anything is allocated.
 */
export class MessageDeframer {
  private readonly header = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
  private headerFilled = 0;
  private current: { compressed: boolean; bytes: Buffer; filled: number } | null = null;

  constructor(private readonly maxMessageBytes: number) {}

  /** Complete messages in `chunk` (and before it). @throws FramingError */
  push(chunk: Buffer): FramedMessage[] {
    const done: FramedMessage[] = [];
    let offset = 0;
    while (offset < chunk.length) {
      if (this.current === null) {
        const take = Math.min(FRAME_HEADER_BYTES - this.headerFilled, chunk.length - offset);
        chunk.copy(this.header, this.headerFilled, offset, offset + take);
        this.headerFilled += take;
        offset += take;
        if (this.headerFilled < FRAME_HEADER_BYTES) break;
        const { compressed, length } = parseHeader(this.header, 0);
        if (length > this.maxMessageBytes) throw tooLarge(length, this.maxMessageBytes);
        this.headerFilled = 0;
        this.current = { compressed, bytes: Buffer.allocUnsafe(length), filled: 0 };
      }
      const message = this.current;
      const take = Math.min(message.bytes.length - message.filled, chunk.length - offset);
      chunk.copy(message.bytes, message.filled, offset, offset + take);
      message.filled += take;
      offset += take;
      if (message.filled === message.bytes.length) {
        done.push({ compressed: message.compressed, bytes: message.bytes });
        this.current = null;
      }
    }
    // A zero-length message has no body bytes: complete as soon as its header is.
    if (this.current !== null && this.current.bytes.length === 0) {
      done.push({ compressed: this.current.compressed, bytes: this.current.bytes });
      this.current = null;
    }
    return done;
  }

  /** Whether the body ended inside a message (a truncated request). */
  get midMessage(): boolean {
    return this.headerFilled > 0 || this.current !== null;
  }
}

/** One message framed for the wire (responses are never compressed). */
export function frameMessage(bytes: Uint8Array): Buffer {
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + bytes.length);
  frame[0] = 0;
  frame.writeUInt32BE(bytes.length, 1);
  frame.set(bytes, FRAME_HEADER_BYTES);
  return frame;
}
