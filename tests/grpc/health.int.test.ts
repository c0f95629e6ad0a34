import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { HealthService } from '../../src/grpc/health.js';
import { PROTO_DIR } from '../../src/protos.js';
import { SERVICE_SERVER_KINDS, startServiceServer, type RunningServiceServer } from '../helpers/service-servers.js';

interface HealthResponse {
  status: string;
}
type HealthClient = grpc.Client & {
  Check(request: { service: string }, callback: (error: grpc.ServiceError | null, response?: HealthResponse) => void): void;
  Watch(request: { service: string }): grpc.ClientReadableStream<HealthResponse>;
};

const definition = protoLoader.loadSync('grpc/health/v1/health.proto', {
  includeDirs: [PROTO_DIR], keepCase: true, enums: String, defaults: true,
});
const HealthClientConstructor = grpc.makeGenericClientConstructor(
  definition['grpc.health.v1.Health'] as grpc.ServiceDefinition, 'Health',
);

let server: RunningServiceServer;
let health: HealthService;
let client: HealthClient;

function check(service: string): Promise<string> {
  return new Promise((resolve, reject) =>
    client.Check({ service }, (error, response) => (error ? reject(error) : resolve(response?.status ?? 'none'))));
}

/** Collects a Watch stream's statuses; `next(n)` waits until n have arrived. */
function watch(service: string) {
  const call = client.Watch({ service });
  const seen: string[] = [];
  const waiters: (() => void)[] = [];
  let ended: { code: grpc.status | 'end' } | undefined;
  call.on('data', (response: HealthResponse) => {
    seen.push(response.status);
    waiters.splice(0).forEach((wake) => wake());
  });
  call.on('error', (error: grpc.ServiceError) => {
    ended = { code: error.code };
    waiters.splice(0).forEach((wake) => wake());
  });
  call.on('end', () => {
    ended ??= { code: 'end' };
    waiters.splice(0).forEach((wake) => wake());
  });
  const until = async (done: () => boolean): Promise<void> => {
    while (!done()) await new Promise<void>((wake) => waiters.push(wake));
  };
  return {
    call,
    seen,
    next: (count: number) => until(() => seen.length >= count || ended !== undefined).then(() => seen.slice()),
    ended: () => until(() => ended !== undefined).then(() => ended),
  };
}

// On grpc-js and on the hand-written HTTP/2 server of the OTLP listener alike.
describe.each(SERVICE_SERVER_KINDS)('on %s', (kind) => {
  beforeEach(async () => {
    health = new HealthService({ 'otlpcapture.v1.CaptureService': 'SERVING' });
    server = await startServiceServer(kind, (target) => health.addTo(target));
    client = new HealthClientConstructor(server.address, grpc.credentials.createInsecure()) as unknown as HealthClient;
  });

  afterEach(async () => {
    client.close();
    await server.stop();
  });

  test('Check reports the overall status and per-service statuses', async () => {
    expect(await check('')).toBe('SERVING');
    expect(await check('otlpcapture.v1.CaptureService')).toBe('SERVING');
    health.setStatus('otlpcapture.v1.CaptureService', 'NOT_SERVING');
    expect(await check('otlpcapture.v1.CaptureService')).toBe('NOT_SERVING');
    expect(await check('')).toBe('SERVING');
  });

  test('Check of an unknown service is NOT_FOUND', async () => {
    await expect(check('no.such.Service')).rejects.toMatchObject({ code: grpc.status.NOT_FOUND });
  });

  test('Watch sends the current status, then each change, and not repeats', async () => {
    const watcher = watch('');
    expect(await watcher.next(1)).toEqual(['SERVING']);
    health.setStatus('', 'SERVING'); // no change: nothing sent
    health.setStatus('', 'NOT_SERVING');
    health.setStatus('', 'SERVING');
    expect(await watcher.next(3)).toEqual(['SERVING', 'NOT_SERVING', 'SERVING']);
    watcher.call.cancel();
    expect(await watcher.ended()).toEqual({ code: grpc.status.CANCELLED });
  });

  test('Watch of an unknown service says SERVICE_UNKNOWN and reports the service once it appears', async () => {
    const watcher = watch('later.Service');
    expect(await watcher.next(1)).toEqual(['SERVICE_UNKNOWN']);
    health.setStatus('later.Service', 'SERVING');
    expect(await watcher.next(2)).toEqual(['SERVICE_UNKNOWN', 'SERVING']);
    watcher.call.cancel();
  });

  test('a cancelled Watch gets no more updates and others still do', async () => {
    const cancelled = watch('');
    const kept = watch('');
    await Promise.all([cancelled.next(1), kept.next(1)]);
    cancelled.call.cancel();
    await cancelled.ended();
    health.setStatus('', 'NOT_SERVING');
    expect(await kept.next(2)).toEqual(['SERVING', 'NOT_SERVING']);
    expect(cancelled.seen).toEqual(['SERVING']);
    kept.call.cancel();
  });

  test('shutdown turns everything NOT_SERVING, ends Watch streams, and ignores later updates', async () => {
    const overall = watch('');
    const capture = watch('otlpcapture.v1.CaptureService');
    await Promise.all([overall.next(1), capture.next(1)]);
    health.shutdown();
    expect(await overall.ended()).toEqual({ code: 'end' });
    expect(await capture.ended()).toEqual({ code: 'end' });
    expect(overall.seen).toEqual(['SERVING', 'NOT_SERVING']);
    expect(capture.seen).toEqual(['SERVING', 'NOT_SERVING']);

    health.setStatus('', 'SERVING');
    expect(await check('')).toBe('NOT_SERVING');
    expect(await check('otlpcapture.v1.CaptureService')).toBe('NOT_SERVING');

    const late = watch('');
    expect(await late.ended()).toEqual({ code: 'end' });
    expect(late.seen).toEqual(['NOT_SERVING']);
  });
});
