// A storm on one HTTP/2 connection (64 concurrent Exports, each retried at once on UNAVAILABLE, far more than the
// in-flight budget) does not starve an honest client on another connection: admission serves connections in
// turn, and waiting requests cost the storm's connection only their flow-control windows.
import { performance } from 'node:perf_hooks';
import * as grpc from '@grpc/grpc-js';
import { startCaptureInProcess, type InProcessCapture } from '../../helpers/capture-in-process.js';
import { RawOtlpClient } from '../../helpers/raw-otlp-client.js';
import { uniqueTraceRequest } from '../../helpers/small-requests.js';

let capture: InProcessCapture;
beforeAll(async () => {
  capture = await startCaptureInProcess({
    'admission.maxInFlightBytes': '2MiB',
    // Room for the whole storm to wait in: this test is about turns, not about refusing a full room.
    'admission.waitQueueBytes': '32MiB',
    'server.grpc.maxConcurrentStreams': 256,
    'archiver.maxObjectAge': '500ms',
  });
});
afterAll(() => capture?.dispose());

async function waitingRequests(): Promise<number> {
  const metrics = await (await fetch(`http://127.0.0.1:${capture.adminPort}/metrics`)).text();
  return Number(/^otlpcapture_admission_waiting_requests (\d+)/m.exec(metrics)?.[1] ?? NaN);
}

test('an honest Export is admitted at its turn while a storm floods another connection', async () => {
  const storm = new RawOtlpClient(capture.grpcAddress);
  const honest = new RawOtlpClient(capture.grpcAddress, { ownConnection: true });
  const stormPayloads = Array.from({ length: 8 }, (_, i) => uniqueTraceRequest(i, 256 * 1024));
  let stormAccepted = 0;
  let stormRefused = 0;
  let stopping = false;
  const stormWorkers = Array.from({ length: 64 }, async (_, worker) => {
    while (!stopping) {
      const outcome = await storm.export('traces', stormPayloads[worker % stormPayloads.length]!);
      if (outcome.ok) stormAccepted += 1;
      else if (outcome.code === grpc.status.UNAVAILABLE) stormRefused += 1; // and again at once: no backoff
      else throw new Error(`storm call failed: ${outcome.details}`);
    }
  });
  try {
    await new Promise((wake) => setTimeout(wake, 1000)); // the storm is in full swing
    const waitingBefore = await waitingRequests();
    const acceptedBefore = stormAccepted;
    const phaseBegan = performance.now();
    const latencies: number[] = [];
    for (let n = 0; n < 10; n++) {
      const began = performance.now();
      const outcome = await honest.export('traces', uniqueTraceRequest(1000 + n, 64 * 1024));
      latencies.push(performance.now() - began);
      expect(outcome).toEqual({ ok: true });
    }
    // Generous for a loaded 2-core machine; without turns it waits behind up to 2 MiB of the storm's queue per call.
    // In arrival order the honest call would wait behind the storm's queue; with turns, behind about one request.
    const stormPerMs = (stormAccepted - acceptedBefore) / (performance.now() - phaseBegan);
    const queueDrainMs = waitingBefore / stormPerMs;
    const median = [...latencies].sort((a, b) => a - b)[Math.floor(latencies.length / 2)]!;
    expect(waitingBefore).toBeGreaterThan(20);
    expect(median).toBeLessThan(queueDrainMs / 3);
    // Generous for a loaded 2-core machine.
    expect(Math.max(...latencies)).toBeLessThan(3000);
  } finally {
    stopping = true;
    await Promise.all(stormWorkers);
    storm.close();
    honest.close();
  }
  expect(stormAccepted).toBeGreaterThan(10);
  const metrics = await (await fetch(`http://127.0.0.1:${capture.adminPort}/metrics`)).text();
  expect(metrics).toMatch(/otlpcapture_admission_wait_seconds_count [1-9]/);
  // The storm waits rather than churns: refusals come only from waits that ran out.
  expect(stormRefused).toBeLessThan(stormAccepted);
});
