// Reading the one request message of a unary call in two steps, so admission can decide between them: first only
// the 5-byte message header (the exact size on the wire, known before the body is read; what arrived with it stays
// within the stream's flow-control window while the stream is paused), then — once admitted — the rest, each chunk
// copied once into a buffer of the message's size.
import type http2 from 'node:http2';
import type { GrpcStatus } from './grpc-protocol.js';
import { Status } from './grpc-protocol.js';
import { FramingError, MessageDeframer, peekFrameHeader, type FrameHeader, type FramedMessage } from './message-framing.js';
import { monotonicMs } from '../../util/monotonic.js';

/** A call that cannot go on, with the status to answer. */
export class CallFailure extends Error {
  constructor(readonly status: GrpcStatus, readonly kind: 'too_large' | 'malformed' | 'timeout' | 'gone') {
    super(status.details);
  }
}

export class UnaryBody {
  /** Chunks read while looking for the header, handed to the deframer once admitted. */
  private readonly held: Buffer[] = [];
  private onChunk: ((chunk: Buffer) => void) | null = null;
  private onEnd: (() => void) | null = null;
  private onClose: (() => void) | null = null;
  private ended = false;
  private closed = false;

  constructor(private readonly stream: http2.ServerHttp2Stream, private readonly maxMessageBytes: number) {
    // Flowing mode delivers chunks one by one (paused-mode read() would concatenate them first).
    stream.on('data', (chunk: Buffer) => {
      if (this.onChunk) this.onChunk(chunk);
      else this.held.push(chunk);
    });
    stream.once('end', () => {
      this.ended = true;
      this.onEnd?.();
    });
    stream.once('close', () => {
      this.closed = true;
      this.onClose?.();
    });
  }

  /**
   * The first message's header, or null when the body ended without any message. The stream is paused once the
   * header is known: the rest of the body stays in (and is held back by) its flow-control window.
   * @throws CallFailure when the header does not come within `timeoutMs`, is invalid, or the stream closes.
   */
  header(timeoutMs: number): Promise<FrameHeader | null> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => settle(() => reject(new CallFailure({ code: Status.UNAVAILABLE, details: `no request message arrived within ${timeoutMs} ms` }, 'timeout'))), timeoutMs);
      const settle = (then: () => void): void => {
        clearTimeout(timer);
        this.onChunk = this.onEnd = this.onClose = null;
        then();
      };
      const check = (): void => {
        let header: FrameHeader | null;
        try {
          header = peekFrameHeader(this.held);
        } catch (error) {
          settle(() => reject(new CallFailure({ code: Status.INTERNAL, details: (error as Error).message }, 'malformed')));
          return;
        }
        if (header === null) return;
        this.stream.pause();
        settle(() => resolve(header));
      };
      this.onChunk = (chunk) => {
        this.held.push(chunk);
        check();
      };
      this.onEnd = () => settle(() => resolve(null));
      this.onClose = () => settle(() => reject(gone()));
      if (this.closed) this.onClose();
      else if (this.held.length > 0) check();
      else if (this.ended) this.onEnd();
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
      // Monotonic: on the wall clock a backward step would keep a stalled body (slowloris) for the whole step and a
      // forward one would cut a body still flowing.
      let lastData = monotonicMs();
      const timer = setInterval(() => {
        if (monotonicMs() - lastData >= idleTimeoutMs) {
          settle(() => reject(new CallFailure({ code: Status.DEADLINE_EXCEEDED, details: `the request body stalled: no data for ${idleTimeoutMs} ms` }, 'timeout')));
        }
      }, Math.max(10, Math.min(1000, idleTimeoutMs / 4)));
      timer.unref();
      const settle = (then: () => void): void => {
        clearInterval(timer);
        this.onChunk = this.onEnd = this.onClose = null;
        then();
      };
      const take = (chunk: Buffer): void => {
        lastData = monotonicMs();
        let done: FramedMessage[];
        try {
          done = deframer.push(chunk);
        } catch (error) {
          const tooLarge = error instanceof FramingError && error.problem === 'too_large';
          const status = { code: tooLarge ? Status.RESOURCE_EXHAUSTED : Status.INTERNAL, details: (error as Error).message };
          settle(() => reject(new CallFailure(status, tooLarge ? 'too_large' : 'malformed')));
          return;
        }
        for (const next of done) {
          if (message !== null) {
            const status = { code: Status.UNIMPLEMENTED, details: 'received a second request message for a unary method, which takes one' };
            settle(() => reject(new CallFailure(status, 'malformed')));
            return;
          }
          message = next;
        }
      };
      const finish = (): void => {
        if (deframer.midMessage) {
          settle(() => reject(new CallFailure({ code: Status.INTERNAL, details: 'the request body ended inside a message' }, 'malformed')));
        } else if (message === null) {
          const status = { code: Status.UNIMPLEMENTED, details: 'received no request message for a unary method, which takes one' };
          settle(() => reject(new CallFailure(status, 'malformed')));
        } else {
          const whole = message;
          settle(() => resolve(whole));
        }
      };
      this.onChunk = take;
      this.onEnd = finish;
      this.onClose = () => settle(() => reject(gone()));
      if (this.closed) {
        this.onClose();
        return;
      }
      for (const chunk of this.held.splice(0)) {
        take(chunk);
        if (this.onChunk === null) return;
      }
      if (this.ended) finish();
      else this.stream.resume();
    });
  }
}

function gone(): CallFailure {
  return new CallFailure({ code: Status.CANCELLED, details: 'the client cancelled the call' }, 'gone');
}
