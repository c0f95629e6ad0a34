// Connection limits longer than setTimeout's longest delay (2^31-1 ms, ~24.8 days) are valid configuration; they
// must not fire after 1 ms (Node's TimeoutOverflowWarning behaviour) and retire or cut every connection at once.
import http2 from 'node:http2';
import { startCaptureInProcess, type InProcessCapture } from '../../helpers/capture-in-process.js';
import { frame, grpcHeaders, rawCall } from '../../helpers/raw-grpc-call.js';

let capture: InProcessCapture;

beforeAll(async () => {
  capture = await startCaptureInProcess({
    'server.grpc.maxConnectionAge': '30d',
    'server.grpc.maxConnectionAgeGrace': '30d',
    'server.grpc.maxConnectionIdle': '30d',
    'server.grpc.keepaliveTime': '30d',
  });
});

afterAll(async () => {
  await capture?.dispose();
});

test('a 30-day max connection age, grace, idle limit and keepalive time: no GOAWAY, no cut, calls served', async () => {
  const session = http2.connect(`http://${capture.grpcAddress}`);
  const events: string[] = [];
  session.on('goaway', () => events.push('goaway'));
  session.on('close', () => events.push('close'));
  session.on('error', () => undefined);
  try {
    const check = () => rawCall(session, grpcHeaders('/grpc.health.v1.Health/Check'), frame(Buffer.alloc(0)));
    expect((await check()).grpcStatus).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(events).toEqual([]);
    expect((await check()).grpcStatus).toBe(0);
  } finally {
    session.close();
  }
});
