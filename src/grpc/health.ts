// grpc.health.v1.Health (https://github.com/grpc/grpc/blob/master/doc/health-checking.md): Check and Watch.
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { PROTO_DIR } from '../protos.js';

export const HEALTH_SERVICE = 'grpc.health.v1.Health';

export type ServingStatus = 'SERVING' | 'NOT_SERVING';
type WireStatus = ServingStatus | 'SERVICE_UNKNOWN';

interface HealthCheckRequest {
  service: string;
}
interface HealthCheckResponse {
  status: WireStatus;
}
type WatchCall = grpc.ServerWritableStream<HealthCheckRequest, HealthCheckResponse>;

/** The empty service name stands for the server as a whole. */
const OVERALL = '';

export class HealthService {
  private readonly statuses = new Map<string, ServingStatus>();
  private readonly watchers = new Map<string, Set<WatchCall>>();
  private shutDown = false;

  /** The server as a whole starts SERVING unless `initial` says otherwise. */
  constructor(initial: Readonly<Record<string, ServingStatus>> = {}) {
    this.statuses.set(OVERALL, 'SERVING');
    for (const [service, status] of Object.entries(initial)) this.statuses.set(service, status);
  }

  addTo(server: Pick<grpc.Server, 'addService'>): void {
    server.addService(healthServiceDefinition(), {
      Check: (call: grpc.ServerUnaryCall<HealthCheckRequest, HealthCheckResponse>,
        callback: grpc.sendUnaryData<HealthCheckResponse>) => {
        const status = this.statuses.get(call.request.service);
        if (status === undefined) {
          callback({ code: grpc.status.NOT_FOUND, details: `unknown service: ${call.request.service}` });
        } else {
          callback(null, { status });
        }
      },
      Watch: (call: WatchCall) => this.watch(call),
    });
  }

  /** Ignored after shutdown(): a server going away must not look healthy again. */
  setStatus(service: string, status: ServingStatus): void {
    if (this.shutDown || this.statuses.get(service) === status) return;
    this.statuses.set(service, status);
    for (const call of this.watchers.get(service) ?? []) call.write({ status });
  }

  /** Marks everything NOT_SERVING (so clients move elsewhere while calls drain) and ends every Watch stream. */
  shutdown(): void {
    for (const service of this.statuses.keys()) this.setStatus(service, 'NOT_SERVING');
    this.shutDown = true;
    for (const calls of this.watchers.values()) for (const call of calls) call.end();
    this.watchers.clear();
  }

  private watch(call: WatchCall): void {
    const service = call.request.service;
    call.write({ status: this.statuses.get(service) ?? 'SERVICE_UNKNOWN' });
    if (this.shutDown) {
      call.end();
      return;
    }
    let calls = this.watchers.get(service);
    if (!calls) {
      calls = new Set();
      this.watchers.set(service, calls);
    }
    calls.add(call);
    call.on('cancelled', () => {
      calls.delete(call);
      if (calls.size === 0 && this.watchers.get(service) === calls) this.watchers.delete(service);
    });
  }
}

let definition: grpc.ServiceDefinition | undefined;

function healthServiceDefinition(): grpc.ServiceDefinition {
  if (definition) return definition;
  const packageDefinition = protoLoader.loadSync('grpc/health/v1/health.proto', {
    includeDirs: [PROTO_DIR],
    keepCase: true,
    enums: String,
    defaults: true,
  });
  definition = packageDefinition[HEALTH_SERVICE] as grpc.ServiceDefinition;
  return definition;
}
