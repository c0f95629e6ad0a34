// ListRequests pages are bounded by the service names their rows carry, not only by page_size: a row holds up to
// admission.maxServicesPerRequest names. Measured before: 200 rows of 10,000 40-character names held serve's event
// loop 3 s and then failed ("Sent message larger than max", 84 MB) — a page no client could get past. Now such a page
// ends early with a page token, and paging on visits every request once.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { MAX_PAGE_SERVICE_BYTES } from '../../src/api/list-page.js';
import { CaptureServer } from '../../src/app/capture-server.js';
import { loadConfig } from '../../src/config/load.js';
import { requestType } from '../../src/otlp/proto-root.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { grpcExport, unary } from '../helpers/grpc-calls.js';
import { LOOPBACK_LISTENERS } from '../helpers/loopback-listeners.js';

const insecure = grpc.credentials.createInsecure();
const CAPTURE = 'otlpcapture.v1.CaptureService' as const;
const SERVICES = 2000;
const NAME_CHARS = 100;
const HEAVY = 30;
const LIGHT = 150;

let dir: string;
let server: CaptureServer;
let apiAddress: string;
let grpcAddress: string;

/** A request of `services` resources, each its own service.name of NAME_CHARS characters and one span. */
function request(n: number, services: number): Buffer {
  const type = requestType('traces');
  const resourceSpans = Array.from({ length: services }, (_, s) => ({
    resource: { attributes: [{ key: 'service.name', value: { stringValue: `svc-${n}-${s}-`.padEnd(NAME_CHARS, 'x') } }] },
    scopeSpans: [{
      spans: [{
        traceId: Buffer.from('ab'.repeat(16), 'hex'),
        spanId: Buffer.from((n * 10_000 + s + 1).toString(16).padStart(16, '0'), 'hex'),
        name: 's',
        startTimeUnixNano: '1767225600000000000',
        endTimeUnixNano: '1767225600000001000',
      }],
    }],
  }));
  return Buffer.from(type.encode(type.fromObject({ resourceSpans })).finish());
}

interface Row {
  id: string;
  services: string[];
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'audit-list-weight-'));
  const config = loadConfig({
    env: {},
    overrides: { dataDir: path.join(dir, 'data'), ...LOOPBACK_LISTENERS, 'spool.durability': 'none', 'log.level': 'silent' },
  });
  server = new CaptureServer(config, silentLogger());
  const ports = await server.start();
  apiAddress = `127.0.0.1:${ports.api}`;
  grpcAddress = `127.0.0.1:${ports.grpc}`;
  // Light requests first (one service each), then heavy ones: a page's first rows say nothing of the later ones.
  for (let n = 0; n < LIGHT; n++) expect(await grpcExport(grpcAddress, insecure, request(1000 + n, 1))).toEqual({ ok: true });
  for (let n = 1; n <= HEAVY; n++) expect(await grpcExport(grpcAddress, insecure, request(n, SERVICES))).toEqual({ ok: true });
}, 60_000);

afterAll(async () => {
  await server?.stop(10_000);
  fs.rmSync(dir, { recursive: true, force: true });
});

async function page(token: string): Promise<{ rows: Row[]; next: string }> {
  const { error, response } = await unary<{ requests: Row[]; next_page_token: string }>(apiAddress, insecure, CAPTURE, 'ListRequests', {
    page_size: 1000,
    page_token: token,
  });
  expect(error).toBeNull();
  return { rows: response.requests, next: response.next_page_token };
}

test('a page stops at the service-name budget with a page token; paging on shows every request once', async () => {
  const pages: Row[][] = [];
  let token = '';
  do {
    const next = await page(token);
    pages.push(next.rows);
    token = next.next;
  } while (token !== '' && pages.length < 20);

  const rows = pages.flat();
  expect(rows).toHaveLength(LIGHT + HEAVY);
  expect(new Set(rows.map((row) => row.id)).size).toBe(LIGHT + HEAVY);
  expect(rows.filter((row) => row.services.length === SERVICES)).toHaveLength(HEAVY);
  // More than one page although every request fits page_size, and none far over the budget (one row at most).
  expect(pages.length).toBeGreaterThan(1);
  for (const rowsOfPage of pages) {
    const names = rowsOfPage.reduce((sum, row) => sum + row.services.reduce((n, s) => n + s.length + 2, 0), 0);
    expect(names).toBeLessThan(MAX_PAGE_SERVICE_BYTES + SERVICES * (NAME_CHARS + 2));
  }
}, 60_000);
