// Runs grpc-js service implementations (health, reflection, CaptureService) on the hand-written server: unary,
// client-streaming, server-streaming and bidi handlers get call objects with what grpc-js' calls offer them —
// request, metadata, cancelled, getPeer/getDeadline/getPath, sendMetadata, write, end, and the events 'data', 'end',
// 'cancelled' and 'error' (emitted by a handler on a streaming call, it ends the call with that status).
import { EventEmitter } from 'node:events';
import * as grpc from '@grpc/grpc-js';
import { MalformedEncodingError, PayloadTooLargeError } from '../../errors.js';
import { peerOf, type CallContext, type Route } from './call-context.js';
import { onDeadline } from './deadline-timer.js';
import { Status, statusFromError, type GrpcStatus } from './grpc-protocol.js';
import { endWithStatus, responseHeaders, sendTrailersOnly, sendUnaryResponse, writable } from './grpc-response.js';
import { FramingError, MessageDeframer, frameMessage, type FramedMessage } from './message-framing.js';
import { decodeWireMessage } from './wire-codec.js';
import { monotonicMs } from '../../util/monotonic.js';

/** Headers that carry the protocol, not the caller's metadata (grpc-js leaves these out of call.metadata too). */
const PROTOCOL_HEADERS = ['grpc-timeout', 'grpc-encoding', 'grpc-accept-encoding', 'accept-encoding', 'te', 'content-type'];

export function callMetadata(headers: CallContext['headers']): grpc.Metadata {
  const metadata = grpc.Metadata.fromHttp2Headers(headers);
  for (const key of PROTOCOL_HEADERS) metadata.remove(key);
  return metadata;
}

type AnyHandler = (...args: unknown[]) => void;

/** A call object for one method invocation; also the event emitter handlers listen on. */
export class ServiceCall extends EventEmitter {
  request: unknown = undefined;
  readonly metadata: grpc.Metadata;
  cancelled = false;
  private done = false;
  private pendingMetadata: grpc.Metadata | null = null;
  private cancelDeadline: (() => void) | null = null;

  constructor(private readonly context: CallContext, private readonly method: grpc.MethodDefinition<unknown, unknown>) {
    super();
    this.metadata = callMetadata(context.headers);
    const { stream } = context;
    stream.once('close', () => {
      if (!this.done) this.cancel();
      this.clearDeadline();
    });
    if (context.deadline !== null) {
      this.cancelDeadline = onDeadline(context.deadline, () => {
        this.finish({ code: Status.DEADLINE_EXCEEDED, details: 'Deadline exceeded' });
        this.cancel();
      });
    }
    if (method.responseStream) {
      // As in grpc-js: a handler ends a streaming call with an error by emitting it.
      this.on('error', (error: unknown) => this.finish(statusFromError(error)));
    }
  }

  getPeer(): string {
    return peerOf(this.context.stream);
  }

  getDeadline(): Date | number {
    // grpc-js gives a wall-clock Date; ours is monotonic, so it is handed out as the same time left from now.
    return this.context.deadline === null ? Infinity : new Date(Date.now() + (this.context.deadline - monotonicMs()));
  }

  getPath(): string {
    return this.context.request.path;
  }

  getHost(): string {
    return String(this.context.headers[':authority'] ?? '');
  }

  sendMetadata(metadata: grpc.Metadata): void {
    if (!this.context.stream.headersSent) this.pendingMetadata = metadata;
  }

  write(message: unknown, callback?: (error?: Error | null) => void): boolean {
    if (this.done || !writable(this.context.stream)) {
      callback?.(null);
      return false;
    }
    let frame: Buffer;
    try {
      frame = frameMessage(this.method.responseSerialize(message));
    } catch (error) {
      this.finish({ code: Status.INTERNAL, details: `cannot serialize the response: ${(error as Error).message}` });
      callback?.(error as Error);
      return false;
    }
    const { stream } = this.context;
    if (!stream.headersSent) stream.respond(responseHeaders(this.pendingMetadata), { waitForTrailers: true });
    return stream.write(frame, (error?: Error | null) => callback?.(error ?? null));
  }

  /** OK, with trailing metadata when given. */
  end(metadata?: grpc.Metadata): void {
    this.finish({ code: Status.OK, details: '', metadata: metadata ?? null });
  }

  /** The unary/client-streaming callback: (error) or (null, response, trailing metadata). */
  respond(error: unknown, value?: unknown, trailer?: grpc.Metadata): void {
    if (error !== null && error !== undefined) {
      const status = statusFromError(error);
      this.finish(trailer ? { ...status, metadata: trailer } : status);
      return;
    }
    if (this.done || !writable(this.context.stream)) return;
    let frame: Buffer;
    try {
      frame = frameMessage(this.method.responseSerialize(value));
    } catch (err) {
      this.finish({ code: Status.INTERNAL, details: `cannot serialize the response: ${(err as Error).message}` });
      return;
    }
    this.done = true;
    this.clearDeadline();
    const { stream } = this.context;
    if (stream.headersSent) {
      stream.write(frame);
      endWithStatus(stream, { code: Status.OK, details: '', metadata: trailer ?? null });
    } else {
      sendUnaryResponse(stream, frame, { code: Status.OK, details: '', metadata: trailer ?? null }, this.pendingMetadata);
    }
  }

  /** Ends the call with `status` (once); a request body still coming is refused. */
  finish(status: GrpcStatus): void {
    if (this.done) return;
    this.done = true;
    this.clearDeadline();
    const { stream } = this.context;
    if (stream.headersSent) endWithStatus(stream, status);
    else sendTrailersOnly(stream, status, true);
  }

  get finished(): boolean {
    return this.done;
  }

  private cancel(): void {
    if (this.cancelled) return;
    this.cancelled = true;
    this.done = true;
    this.emit('cancelled', 'cancelled');
  }

  private clearDeadline(): void {
    this.cancelDeadline?.();
    this.cancelDeadline = null;
  }
}

/**
 * The route of one method. Request messages are deframed under the receive limit, decoded per grpc-encoding and
 * deserialized in order; a unary or server-streaming method gets its handler called once its one message arrived.
 */
export function serviceRoute(method: grpc.MethodDefinition<unknown, unknown>, implementation: AnyHandler, maxReceiveBytes: number): Route {
  return (context) => {
    const call = new ServiceCall(context, method);
    const single = !method.requestStream;
    const messages: unknown[] = [];
    // Counted as messages are framed: `messages` fills later, once each one is decoded (asynchronously).
    let framedCount = 0;
    const deframer = new MessageDeframer(maxReceiveBytes);
    let pending = Promise.resolve();
    const fail = (status: GrpcStatus): void => {
      call.finish(status);
      context.stream.removeAllListeners('data');
    };
    const deliver = (message: FramedMessage): Promise<void> => {
      const bytes = message.compressed
        ? decodeWireMessage(context.request.encoding, message.bytes, maxReceiveBytes)
        : Promise.resolve(message.bytes);
      return bytes.then(
        (plain) => {
          if (call.finished) return;
          let value: unknown;
          try {
            value = method.requestDeserialize(plain);
          } catch (error) {
            fail({ code: Status.INTERNAL, details: `cannot parse the request message: ${(error as Error).message}` });
            return;
          }
          if (single) messages.push(value);
          else call.emit('data', value);
        },
        (error: unknown) => fail(decodeFailure(error, context.request.encoding)),
      );
    };
    context.stream.on('data', (chunk: Buffer) => {
      if (call.finished) return;
      let framed: FramedMessage[];
      try {
        framed = deframer.push(chunk);
      } catch (error) {
        fail(framingFailure(error));
        return;
      }
      for (const message of framed) {
        framedCount += 1;
        if (single && framedCount > 1) {
          fail({ code: Status.UNIMPLEMENTED, details: `received a second request message for ${method.path}, which takes one` });
          return;
        }
        if (message.compressed && context.request.encoding === 'identity') {
          fail({ code: Status.INTERNAL, details: 'a message is flagged compressed but the request has no grpc-encoding' });
          return;
        }
        pending = pending.then(() => deliver(message));
      }
    });
    context.stream.once('end', () => {
      void pending.then(() => {
        if (call.finished) return;
        if (deframer.midMessage) {
          fail({ code: Status.INTERNAL, details: 'the request body ended inside a message' });
          return;
        }
        if (!single) {
          call.emit('end');
          return;
        }
        if (messages.length !== 1) {
          fail({ code: Status.UNIMPLEMENTED, details: `received no request message for ${method.path}, which takes one` });
          return;
        }
        call.request = messages[0];
        invoke(method, implementation, call);
      });
    });
    // Streaming requests start the handler at once; it reads messages as 'data' events.
    if (!single) invoke(method, implementation, call);
  };
}

function invoke(method: grpc.MethodDefinition<unknown, unknown>, implementation: AnyHandler, call: ServiceCall): void {
  try {
    if (method.responseStream) implementation(call);
    else implementation(call, (error: unknown, value?: unknown, trailer?: grpc.Metadata) => call.respond(error, value, trailer));
  } catch (error) {
    call.finish({ code: Status.UNKNOWN, details: `the handler failed: ${(error as Error).message}` });
  }
}

export function framingFailure(error: unknown): GrpcStatus {
  if (error instanceof FramingError && error.problem === 'too_large') return { code: Status.RESOURCE_EXHAUSTED, details: error.message };
  return { code: Status.INTERNAL, details: (error as Error).message };
}

/**
 * A message that does not decode: over the limit once decompressed (RESOURCE_EXHAUSTED, final), or not data of its
 * encoding — INTERNAL, as grpc-go, grpc-java and C-core answer a message that fails to decompress (final for OTLP
 * clients: the same bytes would fail again).
 */
export function decodeFailure(error: unknown, encoding: string): GrpcStatus {
  if (error instanceof PayloadTooLargeError) return { code: Status.RESOURCE_EXHAUSTED, details: error.message };
  const cause = error instanceof MalformedEncodingError && error.cause instanceof Error ? error.cause : error;
  const reason = cause instanceof Error ? cause.message : String(cause);
  return { code: Status.INTERNAL, details: `cannot decompress the ${encoding} request message: ${reason}` };
}
