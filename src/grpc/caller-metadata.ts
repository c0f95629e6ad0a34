// What a gRPC call's metadata says about its caller, in the transport-independent shape the admission policy reads.
import type * as grpc from '@grpc/grpc-js';
import type { CallerCredentials } from '../admission/caller.js';

/** The authorization and tenant metadata of a call (ASCII values; binary ones are ignored). */
export function grpcCredentials(metadata: grpc.Metadata, tenantHeader: string): CallerCredentials {
  const first = (key: string): string | undefined => {
    const value = metadata.get(key)[0];
    return typeof value === 'string' ? value : undefined;
  };
  return { authorization: first('authorization'), tenant: first(tenantHeader) };
}
