// Counts and times the calls of one gRPC service (CaptureService) at the server, whatever file implements it: an
// interceptor on the listener that serves it, so handlers stay metrics-free. A call ends at its status, or when the
// client cancels it (counted as CANCELLED).
import * as grpc from '@grpc/grpc-js';
import type { Metrics } from './metrics.js';

export const CAPTURE_SERVICE = 'otlpcapture.v1.CaptureService';

export function rpcMetricsInterceptor(metrics: Metrics, service: string = CAPTURE_SERVICE): grpc.ServerInterceptor {
  const prefix = `/${service}/`;
  return (method, call) => {
    if (!method.path.startsWith(prefix)) return new grpc.ServerInterceptingCall(call);
    const rpc = method.path.slice(prefix.length);
    const started = process.hrtime.bigint();
    let done = false;
    const finish = (code: grpc.status): void => {
      if (done) return;
      done = true;
      metrics.apiRequests.inc({ method: rpc, code: grpc.status[code] ?? String(code) });
      metrics.apiRequestDuration.observe({ method: rpc }, Number(process.hrtime.bigint() - started) / 1e9);
    };
    return new grpc.ServerInterceptingCall(call, {
      start: (next) => next({ onCancel: () => finish(grpc.status.CANCELLED) }),
      sendStatus: (status, next) => {
        finish(status.code);
        next(status);
      },
    });
  };
}
