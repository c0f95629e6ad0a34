// Every status the API listener sends carries a message of bounded size (src/grpc/status-details.ts): a GetRequest for
// a 100 KB id once came back as a 100 KB trailer. One interceptor, closest to the transport, bounds them all —
// handlers, the access check and grpc-js' own statuses alike.
import * as grpc from '@grpc/grpc-js';
import { boundedDetails } from '../grpc/status-details.js';

export function boundedStatusInterceptor(): grpc.ServerInterceptor {
  return (_method, call) =>
    new grpc.ServerInterceptingCall(call, {
      sendStatus: (status, next) => {
        next(status.details === undefined ? status : { ...status, details: boundedDetails(status.details) });
      },
    });
}
