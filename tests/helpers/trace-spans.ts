// Traces spread over many requests, and a way to compare "the spans of a trace" whatever the request layout:
// every span flattened with its resource and scope, normalized OTLP JSON, sorted by span id.
import { JsonTraceSerializer, ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { normalizeOtlpJson } from './otlp-json-normalize.js';
import { tracePayload } from './otlp-payloads.js';

export interface FlatSpan {
  resource: unknown;
  resourceSchemaUrl: unknown;
  scope: unknown;
  scopeSchemaUrl: unknown;
  span: Record<string, unknown>;
}

type Json = Record<string, any>;

/** Every span of an OTLP/JSON trace request with its resource and scope, normalized, sorted by span id. */
export function flattenTraceJson(request: Json): FlatSpan[] {
  const out: FlatSpan[] = [];
  for (const rs of (request.resourceSpans ?? []) as Json[]) {
    for (const ss of (rs.scopeSpans ?? []) as Json[]) {
      for (const span of (ss.spans ?? []) as Json[]) {
        out.push({
          resource: normalizeOtlpJson(rs.resource ?? {}),
          resourceSchemaUrl: normalizeOtlpJson(rs.schemaUrl ?? ''),
          scope: normalizeOtlpJson(ss.scope ?? {}),
          scopeSchemaUrl: normalizeOtlpJson(ss.schemaUrl ?? ''),
          span: normalizeOtlpJson(span) as Record<string, unknown>,
        });
      }
    }
  }
  return out.sort((a, b) => String(a.span.spanId).localeCompare(String(b.span.spanId)));
}

/** What otlp-transformer's JSON serializer makes of these spans, flattened. */
export function expectedFlatSpans(spans: readonly ReadableSpan[]): FlatSpan[] {
  return flattenTraceJson(JSON.parse(new TextDecoder().decode(JsonTraceSerializer.serializeRequest([...spans])!)) as Json);
}

export interface SpreadTraces {
  /** Encoded ExportTraceServiceRequests, each holding a share of the spans. */
  requests: Buffer[];
  /** SDK spans per trace id. */
  byTrace: Map<string, ReadableSpan[]>;
}

/**
 * `spanCount` generated spans dealt round-robin into `requestCount` requests, so that most traces are spread over
 * several requests (and, archived in batches, several objects).
 */
export function spreadTraces(seed: number, spanCount: number, requestCount: number): SpreadTraces {
  const spans = tracePayload(seed, spanCount).sdk!.spans!;
  const shares: ReadableSpan[][] = Array.from({ length: requestCount }, () => []);
  spans.forEach((span, i) => shares[i % requestCount]!.push(span));
  const byTrace = new Map<string, ReadableSpan[]>();
  for (const span of spans) {
    const id = span.spanContext().traceId;
    byTrace.set(id, [...(byTrace.get(id) ?? []), span]);
  }
  return {
    requests: shares.map((share) => Buffer.from(ProtobufTraceSerializer.serializeRequest(share)!)),
    byTrace,
  };
}

/** A trace id of the spread whose spans are in at least `minRequests` different requests. */
export function traceSpreadOver(spread: SpreadTraces, minRequests: number): string {
  for (const [id, spans] of spread.byTrace) if (spans.length >= minRequests) return id;
  throw new Error(`no trace with ${minRequests} spans`);
}
