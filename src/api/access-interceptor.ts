// Access to CaptureService, decided at a call's headers: a caller without a valid token, or whose token lacks the
// scope the method needs (read; replay and read for Replay), or that names a tenant its token is not bound to, is
// answered before its request is read or any handler runs. Health and reflection stay open.
import * as grpc from '@grpc/grpc-js';
import type { CallerPolicy } from '../admission/caller.js';
import type { Action } from '../admission/scopes.js';
import { attachGrant } from '../grpc/call-grants.js';
import { grpcCredentials } from '../grpc/caller-metadata.js';
import { toGrpcError } from '../grpc/grpc-errors.js';
import type { Logger } from '../telemetry/logger.js';
import { CAPTURE_SERVICE } from './capture-service.js';

/** What each CaptureService method asks to do. A method missing here is refused, not let through. */
export const ACTION_BY_METHOD: Readonly<Record<string, Exclude<Action, 'ingest'>>> = {
  ListRequests: 'read',
  GetRequest: 'read',
  ListObjects: 'read',
  FindTrace: 'read',
  Tail: 'read',
  Replay: 'replay',
};

export function accessInterceptor(callers: CallerPolicy, logger: Logger): grpc.ServerInterceptor {
  const prefix = `/${CAPTURE_SERVICE}/`;
  return (method, call) => {
    if (!method.path.startsWith(prefix)) return new grpc.ServerInterceptingCall(call);
    const name = method.path.slice(prefix.length);
    const action = ACTION_BY_METHOD[name];
    return new grpc.ServerInterceptingCall(call, {
      start: (next) => {
        next({
          onReceiveMetadata: (metadata, pass) => {
            try {
              if (action === undefined) throw new Error(`no access rule for CaptureService/${name}`);
              attachGrant(metadata, callers.authorize(grpcCredentials(metadata, callers.tenantHeader), action));
            } catch (error) {
              const mapped = toGrpcError(error, 1000);
              if (mapped.unexpected) logger.error({ err: error, method: name, ref: mapped.ref }, 'CaptureService call refused');
              else logger.debug({ method: name, message: mapped.status.details }, 'CaptureService call refused at its headers');
              call.sendStatus({ code: grpc.status.INTERNAL, details: '', metadata: new grpc.Metadata(), ...mapped.status });
              return;
            }
            pass(metadata);
          },
        });
      },
    });
  };
}
