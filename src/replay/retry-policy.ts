// When a replay tries an Export again, per the OTLP specification's rules for clients (OTLP/gRPC "Failures"): the
// codes its table marks retryable — CANCELLED, DEADLINE_EXCEEDED, ABORTED, OUT_OF_RANGE, UNAVAILABLE, DATA_LOSS — are
// retried after the target's RetryInfo delay when it sends one, else with exponential backoff and jitter;
// RESOURCE_EXHAUSTED only when the target sends RetryInfo (without it, the request is too large or a quota is spent:
// trying again cannot help); anything else is final. A target restarting or a proxy resetting streams answers
// CANCELLED or UNAVAILABLE, a slow one DEADLINE_EXCEEDED: none of these may end a replay of data that is still good.
import * as grpc from '@grpc/grpc-js';
import { Backoff } from '../archiver/backoff.js';
import type { ExportOutcome } from './grpc-target.js';

export interface RetryPolicyOptions {
  initialBackoffMs: number;
  maxBackoffMs: number;
  /** A request still not accepted this long after its first attempt fails for good. */
  maxRetryTimeMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicyOptions = {
  initialBackoffMs: 250,
  maxBackoffMs: 10_000,
  maxRetryTimeMs: 5 * 60_000,
};

/** The specification's "retryable: yes" codes; RESOURCE_EXHAUSTED is retryable only with RetryInfo. */
const RETRYABLE = new Set<grpc.status>([
  grpc.status.CANCELLED,
  grpc.status.DEADLINE_EXCEEDED,
  grpc.status.ABORTED,
  grpc.status.OUT_OF_RANGE,
  grpc.status.UNAVAILABLE,
  grpc.status.DATA_LOSS,
]);

/**
 * UNAVAILABLE because the TLS handshake failed (a certificate the CA does not vouch for, a client certificate the
 * target wants, TLS against a plaintext port): trying again cannot help, so the replay says so at once instead of
 * after the 5 minutes a target that is down is given.
 */
const TLS_FAILURE = /certificate|\bSSL\b|\bTLS|handshake|wrong version number/i;

export type RetryDecision = { retry: true; delayMs: number } | { retry: false; reason: string };

/** The retry state of one request. */
export class RetryState {
  private readonly backoff: Backoff;
  private readonly firstAttemptAtMs: number;

  constructor(private readonly options: RetryPolicyOptions, nowMs: number) {
    this.backoff = new Backoff(options.initialBackoffMs, options.maxBackoffMs);
    this.firstAttemptAtMs = nowMs;
  }

  decide(outcome: Extract<ExportOutcome, { ok: false }>, nowMs: number): RetryDecision {
    const status = `${grpc.status[outcome.code] ?? outcome.code}: ${outcome.details}`;
    let delayMs: number;
    if (outcome.code === grpc.status.UNAVAILABLE && TLS_FAILURE.test(outcome.details)) {
      return { retry: false, reason: `${status} (the TLS handshake with the target failed: check --tls, --ca, --cert and --key)` };
    }
    if (RETRYABLE.has(outcome.code)) {
      delayMs = outcome.retryDelayMs ?? this.backoff.next();
    } else if (outcome.code === grpc.status.RESOURCE_EXHAUSTED && outcome.retryDelayMs !== null) {
      delayMs = outcome.retryDelayMs;
    } else {
      return { retry: false, reason: status };
    }
    const waited = nowMs - this.firstAttemptAtMs;
    if (waited + delayMs > this.options.maxRetryTimeMs) {
      return { retry: false, reason: `${status} (still refused after retrying for ${Math.round(waited / 1000)} s)` };
    }
    return { retry: true, delayMs };
  }
}
