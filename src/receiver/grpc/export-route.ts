// OTLP Export on the hand-written gRPC server, decided step by step so that nothing is read that will be refused:
//   headers  → caller (token, tenant), shutdown, spool room: refused at once, before any body byte is read;
//   5 bytes  → the message's exact size: over the receive limit refused; otherwise it waits for room in the budget
//              (admission queue, per-connection turns) while HTTP/2 flow control holds the rest of its body back;
//   body     → read once admitted, decoded under the receive limit, scanned and spooled; the ack is the empty
//              Export*ServiceResponse once the spool has it durably.
// Every refusal is a Trailers-Only response followed by RST_STREAM(NO_ERROR), so a refused body stops flowing.
import { isKeepableEncoding } from '../../compression/wire-block.js';
import type { WireBody } from '../../model.js';
import type { Admission } from '../../admission/admission.js';
import type { ResizableLease } from '../../admission/budget.js';
import type { CallerPolicy } from '../../admission/caller.js';
import { PayloadTooLargeError } from '../../errors.js';
import type { Signal } from '../../model.js';
import type { Logger } from '../../telemetry/logger.js';
import type { RejectReason } from '../../telemetry/metrics.js';
import type * as grpc from '@grpc/grpc-js';
import { toGrpcError } from '../../grpc/grpc-errors.js';
import { retryableError } from '../../grpc/rpc-status.js';
import type { Ingest } from '../ingest.js';
import type { CallContext, Route } from './call-context.js';
import { onDeadline } from './deadline-timer.js';
import { exportTenant } from './export-caller.js';
import { Status, type GrpcStatus } from './grpc-protocol.js';
import { sendTrailersOnly, sendUnaryResponse } from './grpc-response.js';
import { frameMessage } from './message-framing.js';
import { decodeFailure } from './service-call.js';
import type { ReadSlots } from './read-slots.js';
import { CallFailure, UnaryBody } from './unary-body.js';
import { decodeWireMessage } from './wire-codec.js';
import { monotonicMs } from '../../util/monotonic.js';

export interface ExportRouteOptions {
  maxReceiveBytes: number;
  retryAfterMs: number;
  /** Longest a request waits for room in the budget (admission.maxWait). */
  maxWaitMs: number;
}

export interface ExportRouteDeps {
  /** Shared by the Export routes of a server: how many admitted bodies are read at once. */
  readSlots: ReadSlots;
  ingest: Ingest;
  admission: Admission;
  callers: CallerPolicy;
  logger: Logger;
}

/** At most this share of the client's deadline is spent waiting for room: the rest is for the request itself. */
const WAIT_SHARE_OF_DEADLINE = 0.5;
/** An admitted body that stops arriving gives its room back after this long without data. */
const BODY_IDLE_TIMEOUT_MS = 30_000;
/** An Export*ServiceResponse without partial_success, framed: full success. */
const OK_FRAME = frameMessage(Buffer.alloc(0));
const OK_STATUS: GrpcStatus = { code: Status.OK, details: '' };
/** Why a call stopped when its stream closed first (one instance: an Error's stack is costly, and never shown). */
const CLIENT_GONE = new CallFailure({ code: Status.CANCELLED, details: 'the client cancelled the call' }, 'gone');

/**
 * Compressed requests are charged an estimate of their decoded size until they are decoded (then their real
 * size): the running ratio of decoded to wire bytes of their encoding, starting from a typical OTLP gzip ratio.
 */
class DecodedSizeGuess {
  private ratio = 5;

  estimate(wireBytes: number): number {
    return Math.ceil(wireBytes * this.ratio);
  }

  observe(wireBytes: number, decodedBytes: number): void {
    if (wireBytes > 0) this.ratio = 0.9 * this.ratio + 0.1 * Math.max(1, decodedBytes / wireBytes);
  }
}

export function exportRoute(signal: Signal, deps: ExportRouteDeps, options: ExportRouteOptions): Route {
  // One per encoding: zstd and snappy shrink OTLP by different ratios than gzip does.
  const guesses = new Map<string, DecodedSizeGuess>();
  const guessFor = (encoding: string): DecodedSizeGuess => {
    let guess = guesses.get(encoding);
    if (guess === undefined) guesses.set(encoding, (guess = new DecodedSizeGuess()));
    return guess;
  };
  const readSlots = deps.readSlots;
  const refuse = (call: CallContext, error: unknown): void => {
    const { status, reason, ref } = failureStatus(error, options.retryAfterMs);
    deps.ingest.recordRejection(signal, reason);
    if (reason === 'internal' && !(error instanceof CallFailure)) deps.logger.error({ err: error, signal, ref }, 'export failed');
    else deps.logger.debug({ signal, reason, message: status.details }, 'export refused');
    sendTrailersOnly(call.stream, status, true);
  };

  return (call) => {
    const { stream } = call;
    let tenant: string;
    try {
      tenant = exportTenant(deps.callers, call.headers);
      deps.ingest.assertAccepting();
      deps.admission.assertSpoolRoom();
    } catch (error) {
      refuse(call, error);
      return;
    }
    // Let in at its headers: counted as receiving until its body is read or the call ends.
    const endReceive = deps.admission.noteReceiving();
    const gone = new AbortController();
    stream.once('close', () => {
      endReceive();
      gone.abort(CLIENT_GONE);
    });
    const waitUntil = monotonicMs() + waitBudgetMs(call, options.maxWaitMs);
    const body = new UnaryBody(stream, options.maxReceiveBytes);
    let lease: ResizableLease | null = null;
    // Once the spool is handed the request it is stored whatever the deadline says; before that, a passed deadline
    // ends the call (DEADLINE_EXCEEDED, the body refused) so a client that does not reset the stream itself does not
    // hold its room in the budget, a read slot or its wait in line until the body idle timeout.
    let handedToSpool = false;
    let deadlinePassed = false;
    const cancelDeadline = call.deadline === null ? null : onDeadline(call.deadline, () => {
      if (handedToSpool || gone.signal.aborted) return;
      deadlinePassed = true;
      refuse(call, new CallFailure({ code: Status.DEADLINE_EXCEEDED, details: 'the deadline (grpc-timeout) passed before the request was stored' }, 'timeout'));
      // Stops the waits and the rest of run() quietly, as if the client had left: it has its answer.
      gone.abort(CLIENT_GONE);
    });

    const run = async (): Promise<void> => {
      const header = await body.header(Math.max(1, waitUntil - monotonicMs()));
      if (header === null) {
        throw new CallFailure({ code: Status.UNIMPLEMENTED, details: 'received no request message for a unary method, which takes one' }, 'malformed');
      }
      if (header.length > options.maxReceiveBytes) {
        throw new CallFailure({
          code: Status.RESOURCE_EXHAUSTED,
          details: `request message of ${header.length} bytes is larger than the limit of ${options.maxReceiveBytes} bytes`,
        }, 'too_large');
      }
      if (header.compressed && call.request.encoding === 'identity') {
        throw new CallFailure({ code: Status.INTERNAL, details: 'the message is flagged compressed but the request has no grpc-encoding' }, 'malformed');
      }
      const guess = guessFor(call.request.encoding);
      const charge = header.compressed ? guess.estimate(header.length) : header.length;
      lease = await deps.admission.waitForRoom(charge, {
        queue: call.connection,
        maxWaitMs: Math.max(0, waitUntil - monotonicMs()),
        signal: gone.signal,
      });
      const releaseSlot = await readSlots.acquire(call.connection, gone.signal);
      let message;
      try {
        message = await body.message(BODY_IDLE_TIMEOUT_MS);
      } finally {
        releaseSlot();
        endReceive();
      }
      let payload = message.bytes;
      let wire: WireBody | undefined;
      if (message.compressed) {
        try {
          payload = await decodeWireMessage(call.request.encoding, message.bytes, options.maxReceiveBytes);
        } catch (error) {
          throw new CallFailure(decodeFailure(error, call.request.encoding), error instanceof PayloadTooLargeError ? 'too_large' : 'malformed');
        }
        guess.observe(message.bytes.length, payload.length);
        lease.resize(payload.length);
        if (isKeepableEncoding(call.request.encoding)) wire = { encoding: call.request.encoding, bytes: message.bytes };
      }
      if (gone.signal.aborted) return;
      handedToSpool = true;
      await deps.ingest.accept(signal, tenant, payload, lease, wire);
      sendUnaryResponse(stream, OK_FRAME, OK_STATUS);
    };

    run().then(
      () => {
        cancelDeadline?.();
        lease?.release();
      },
      (error: unknown) => {
        cancelDeadline?.();
        endReceive();
        lease?.release();
        if (deadlinePassed || (error instanceof CallFailure && error.kind === 'gone')) return;
        refuse(call, error);
      },
    );
  };
}

/** The wait for room: the configured maximum, or less when the client's deadline is near. */
function waitBudgetMs(call: CallContext, maxWaitMs: number): number {
  if (call.deadline === null) return maxWaitMs;
  return Math.max(0, Math.min(maxWaitMs, (call.deadline - monotonicMs()) * WAIT_SHARE_OF_DEADLINE));
}

function failureStatus(error: unknown, retryAfterMs: number): { status: GrpcStatus; reason: RejectReason; ref?: string } {
  if (error instanceof CallFailure) {
    const reason: RejectReason = error.kind === 'too_large' ? 'too_large' : error.kind === 'malformed' ? 'malformed' : 'timeout';
    // A client too slow to send its request may retry later, like one refused for room.
    const status = error.status.code === Status.UNAVAILABLE ? statusOf(retryableError(Status.UNAVAILABLE, error.status.details, retryAfterMs)) : error.status;
    return { status, reason };
  }
  const mapped = toGrpcError(error, retryAfterMs, { hideInternals: true });
  return { status: statusOf(mapped.status), reason: mapped.reason, ...(mapped.ref === undefined ? {} : { ref: mapped.ref }) };
}

function statusOf(status: Partial<grpc.StatusObject>): GrpcStatus {
  return { code: status.code ?? Status.UNKNOWN, details: status.details ?? '', metadata: status.metadata ?? null };
}
