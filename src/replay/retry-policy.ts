// When a replay tries an Export again, per the OTLP specification's rules for clients: UNAVAILABLE is retryable
// (after the target's RetryInfo delay when it sends one, else with exponential backoff); RESOURCE_EXHAUSTED only
// when the target sends RetryInfo (without it, the request is too large or a quota is spent: trying again cannot
// help); anything else is final.
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
    if (outcome.code === grpc.status.UNAVAILABLE) {
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
