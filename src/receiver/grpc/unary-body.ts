// Reading the one request message of a unary call in two steps, so admission can decide between them: first only
// the 5-byte message header (the exact size on the wire, known before the body is read; what arrived with it stays
// within the stream's flow-control window), then — once admitted — the rest, copied once into a buffer of that size.
import type http2 from 'node:http2';
import type { GrpcStatus } from './grpc-protocol.js';
import { Status } from './grpc-protocol.js';
import { FramingError, MessageDeframer, peekFrameHeader, type FrameHeader, type FramedMessage } from './message-framing.js';

/** A call that cannot go on, with the status to answer. */
export class CallFailure extends Error {
  constructor(readonly status: GrpcStatus, readonly kind: 'too_large' | 'malformed' | 'timeout' | 'gone') {
    super(status.details);
  }
}

export class UnaryBody {
  private readonly held: Buffer[] = [];
  private onReadable: (() => void) | null = null;
  private onEnd: (() => void) | null = null;
  private onClose: (() => void) | null = null;
  private ended = false;

  constructor(private readonly stream: http2.ServerHttp2Stream, private readonly maxMessageBytes: number) {
    stream.on('readable', () => this.onReadable?.());
    stream.once('end', () => {
      this.ended = true;
      this.onEnd?.();
    });
    stream.once('close', () => this.onClose?.());
  }

  /**
   * The first message's header, or null when the body ended without any message. Reads no further than the chunk
   * that completes the header.
   * @throws CallFailure when the header does not come within `timeoutMs`, is invalid or the stream closes.
   */
  header(timeoutMs: number): Promise<FrameHeader | null> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => settle(() => reject(new CallFailure({ code: Status.UNAVAILABLE, details: `no request message arrived within ${timeoutMs} ms` }, 'timeout'))), timeoutMs);
      const settle = (then: () => void): void => {
        clearTimeout(timer);
        this.onReadable = this.onEnd = this.onClose = null;
        then();
      };
      this.onReadable = () => {
        for (;;) {
          let header: FrameHeader | null;
          try {
            header = peekFrameHeader(this.held);
          } catch (error) {
            settle(() => reject(new CallFailure({ code: Status.INTERNAL, details: (error as Error).message }, 'malformed')));
            return;
          }
          if (header !== null) {
            settle(() => resolve(header));
            return;
          }
          const chunk = this.read();
          if (chunk === null) return;
          this.held.push(chunk);
        }
      };
      this.onEnd = () => settle(() => resolve(null));
      this.onClose = () => settle(() => reject(gone()));
      if (this.ended) this.onEnd();
      else this.onReadable();
    });
  }

  /**
   * The whole message, once the body has ended.
   * @throws CallFailure: over the limit, a second message, a body that ends inside the message, no data for
   * `idleTimeoutMs`, or the stream closed.
   */
  message(idleTimeoutMs: number): Promise<FramedMessage> {
    return new Promise((resolve, reject) => {
      const deframer = new MessageDeframer(this.maxMessageBytes);
      let message: FramedMessage | null = null;
      let timer = setTimeout(() => onIdle(), idleTimeoutMs);
      const onIdle = (): void => settle(() => reject(new CallFailure({ code: Status.DEADLINE_EXCEEDED, details: `the request body stalled: no data for ${idleTimeoutMs} ms` }, 'timeout')));
      const settle = (then: () => void): void => {
        clearTimeout(timer);
        this.onReadable = this.onEnd = this.onClose = null;
        then();
      };
      const take = (chunk: Buffer): boolean => {
        let done: FramedMessage[];
        try {
          done = deframer.push(chunk);
        } catch (error) {
          const tooLarge = error instanceof FramingError && error.problem === 'too_large';
          settle(() => reject(new CallFailure({ code: tooLarge ? Status.RESOURCE_EXHAUSTED : Status.INTERNAL, details: (error as Error).message }, tooLarge ? 'too_large' : 'malformed')));
          return false;
        }
        for (const next of done) {
          if (message !== null) {
            settle(() => reject(new CallFailure({ code: Status.UNIMPLEMENTED, details: 'received a second request message for a unary method, which takes one' }, 'malformed')));
            return false;
          }
          message = next;
        }
        return true;
      };
      this.onReadable = () => {
        clearTimeout(timer);
        timer = setTimeout(() => onIdle(), idleTimeoutMs);
        for (let chunk = this.held.shift() ?? this.read(); chunk !== null; chunk = this.held.shift() ?? this.read()) {
          if (!take(chunk)) return;
        }
      };
      this.onEnd = () => {
        if (deframer.midMessage) {
          settle(() => reject(new CallFailure({ code: Status.INTERNAL, details: 'the request body ended inside a message' }, 'malformed')));
        } else if (message === null) {
          settle(() => reject(new CallFailure({ code: Status.UNIMPLEMENTED, details: 'received no request message for a unary method, which takes one' }, 'malformed')));
        } else {
          const whole = message;
          settle(() => resolve(whole));
        }
      };
      this.onClose = () => settle(() => reject(gone()));
      if (this.stream.destroyed || this.stream.closed) {
        this.onClose();
        return;
      }
      this.onReadable();
      if (this.ended) this.onEnd?.();
    });
  }

  private read(): Buffer | null {
    return this.stream.read() as Buffer | null;
  }
}

function gone(): CallFailure {
  return new CallFailure({ code: Status.CANCELLED, details: 'the client cancelled the call' }, 'gone');
}
