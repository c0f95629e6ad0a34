// The transport-independent ingest step shared by OTLP/gRPC and OTLP/HTTP: admit, scan, spool durably.
// The returned DurableAck exists only once the spool says the bytes are on disk; only then may a transport ack.
import type { Admission } from '../admission/admission.js';
import type { BudgetLease } from '../admission/budget.js';
import { ShuttingDownError } from '../errors.js';
import type { WireBody } from '../model.js';
import type { IngestNotes, RequestMeta, Signal } from '../model.js';
import { scanRequest, type ScanLimits } from '../otlp/scanner.js';
import type { Spool, SpoolRef } from '../spool/spool.js';
import type { Metrics, RejectReason } from '../telemetry/metrics.js';
import { requestFingerprint } from '../util/fingerprint.js';
import { newUlid } from '../util/ulid.js';

export interface DurableAck {
  readonly id: string;
  readonly items: number;
  readonly spooled: SpoolRef;
}

export interface IngestDeps {
  admission: Admission;
  spool: Spool;
  metrics: Metrics;
  /** admission.maxTraceIdsPerRequest / maxServicesPerRequest: requests with more are refused (see scanRequest). */
  scanLimits?: ScanLimits;
}

export class Ingest {
  private accepting = true;

  constructor(private readonly deps: IngestDeps) {}

  /**
   * Empty requests succeed without being stored (returns null); malformed ones throw MalformedPayloadError.
   * `admitted`: the budget lease the transport already holds for this payload (gRPC waits for room before reading a
   * body; released here), or what this request already holds of the in-flight budget (hold(): OTLP JSON being
   * parsed), with which it is admitted here. `wire`: the body as the client compressed it, when it was (the archiver
   * may store it as the request's block instead of compressing the payload again).
   */
  async accept(signal: Signal, tenant: string, payload: Buffer, admitted: BudgetLease | number = 0, wire?: WireBody): Promise<DurableAck | null> {
    if (!this.accepting) throw new ShuttingDownError('otlp-capture is shutting down; retry against another instance');
    if (payload.length === 0) return null;
    const lease = typeof admitted === 'number' ? this.deps.admission.admit(payload.length, admitted) : admitted;
    this.deps.metrics.inFlightBytes.set(this.deps.admission.inFlightBytes);
    try {
      const startedAt = process.hrtime.bigint();
      const scan = scanRequest(signal, payload, this.deps.scanLimits);
      const receivedAtMs = Date.now();
      const receivedNs = BigInt(receivedAtMs) * 1_000_000n;
      const meta: RequestMeta = {
        id: newUlid(receivedAtMs),
        tenant,
        signal,
        receivedAtMs,
        items: scan.items,
        services: scan.services,
        startNs: scan.startNs ?? receivedNs,
        endNs: scan.endNs ?? scan.startNs ?? receivedNs,
        rawBytes: payload.length,
        fingerprint: requestFingerprint(payload),
      };
      const notes: IngestNotes = {};
      if (signal === 'traces') notes.traceIds = scan.traceIds;
      if (wire !== undefined) notes.wire = wire;
      const spooled = await this.deps.spool.append(meta, payload, notes);
      const seconds = Number(process.hrtime.bigint() - startedAt) / 1e9;
      this.deps.metrics.recordReceived(signal, tenant, scan.items, payload.length, seconds);
      return { id: meta.id, items: scan.items, spooled };
    } finally {
      lease.release();
      this.deps.metrics.inFlightBytes.set(this.deps.admission.inFlightBytes);
    }
  }

  /**
   * Holds `bytes` of the in-flight budget for work done on a request before it is accepted (parsing OTLP JSON), and
   * refuses before that work when they do not fit. Pass the same bytes to accept() as `heldBytes`.
   * @throws OverloadedError
   */
  reserve(bytes: number): BudgetLease {
    const lease = this.deps.admission.hold(bytes);
    this.deps.metrics.inFlightBytes.set(this.deps.admission.inFlightBytes);
    return {
      release: () => {
        lease.release();
        this.deps.metrics.inFlightBytes.set(this.deps.admission.inFlightBytes);
      },
    };
  }

  /** At a request's headers: refuses early (nothing read yet) when shutting down or overloaded. */
  beginReceive(): () => void {
    if (!this.accepting) throw new ShuttingDownError('otlp-capture is shutting down; retry against another instance');
    return this.deps.admission.beginReceive();
  }

  /** @throws ShuttingDownError once stopAccepting() was called. */
  assertAccepting(): void {
    if (!this.accepting) throw new ShuttingDownError('otlp-capture is shutting down; retry against another instance');
  }

  /** New requests are refused from now on (with a retryable error); in-flight ones finish. */
  stopAccepting(): void {
    this.accepting = false;
  }

  recordRejection(signal: Signal, reason: RejectReason): void {
    this.deps.metrics.rejections.inc({ signal, reason });
  }
}
