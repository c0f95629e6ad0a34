// Synthetic index rows shaped like a real archive's, for the index-scale benchmark: requests arriving at 100/s (a
// Collector fleet's pace: 50 M rows in ~5.8 days), each of one of 50 tenants × 3 signals, carrying 1-3 of 200 service
// names, data times a few seconds before receipt; grouped per (tenant, signal) into objects of 200 requests (what an
// archiver with a 5-minute object age seals at that pace); each traces request holds one trace id. Deterministic
// (seeded), and resumable: fill to 5 M, measure, go on to 50 M.
import type { ArchivedRequest, ObjectMeta, Signal } from '../src/model.js';
import { createUlidGenerator } from '../src/util/ulid.js';

export const TENANTS = 50;
export const SERVICES = 200;
export const SIGNALS: readonly Signal[] = ['traces', 'metrics', 'logs'];
export const REQUESTS_PER_OBJECT = 200;
export const REQUESTS_PER_SECOND = 100;
/** Receive time of the first request. */
export const START_MS = Date.UTC(2026, 0, 5, 0, 0, 0);

export interface SyntheticObject {
  object: ObjectMeta;
  requests: ArchivedRequest[];
}

/** mulberry32: small, fast, seeded. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class SyntheticArchive {
  /** Requests generated so far. */
  produced = 0;
  private readonly rand = random(20260105);
  private readonly nextId = createUlidGenerator();
  private readonly open = new Map<number, ArchivedRequest[]>();
  private objectSerial = 0;

  /** Receive time of request k. */
  static receivedAt(k: number): number {
    return START_MS + Math.floor((k * 1000) / REQUESTS_PER_SECOND);
  }

  /** Objects sealed while producing requests up to `total` (the last partial objects too when `flush`). */
  *fillTo(total: number, flush = true): Generator<SyntheticObject> {
    while (this.produced < total) {
      const stream = Math.floor(this.rand() * TENANTS * SIGNALS.length);
      const tenant = `tenant-${stream % TENANTS}`;
      const signal = SIGNALS[Math.floor(stream / TENANTS)]!;
      const at = SyntheticArchive.receivedAt(this.produced);
      const id = this.nextId(at);
      const services = new Set<string>();
      const count = 1 + Math.floor(this.rand() * 3);
      while (services.size < count) services.add(`svc-${Math.floor(this.rand() * SERVICES)}`);
      const endNs = BigInt(at) * 1_000_000n - BigInt(Math.floor(this.rand() * 1e9));
      const request: ArchivedRequest = {
        id,
        tenant,
        signal,
        receivedAtMs: at,
        items: 1 + Math.floor(this.rand() * 500),
        services: [...services].sort(),
        startNs: endNs - BigInt(Math.floor(this.rand() * 5e9)),
        endNs,
        rawBytes: 2000 + Math.floor(this.rand() * 60_000),
        objectKey: '',
        offset: 0,
        length: 0,
        codec: 'gzip',
        crc32: Math.floor(this.rand() * 2 ** 32),
        ...(signal === 'traces' ? { traceIds: [hex32(this.rand)] } : {}),
      };
      this.produced += 1;
      const list = this.open.get(stream) ?? [];
      list.push(request);
      this.open.set(stream, list);
      if (list.length >= REQUESTS_PER_OBJECT) {
        this.open.delete(stream);
        yield this.seal(list);
      }
    }
    if (flush) {
      for (const [stream, list] of this.open) {
        this.open.delete(stream);
        yield this.seal(list);
      }
    }
  }

  private seal(requests: ArchivedRequest[]): SyntheticObject {
    const first = requests[0]!;
    const last = requests[requests.length - 1]!;
    const t = new Date(first.receivedAtMs);
    const day = `${t.getUTCFullYear()}/${String(t.getUTCMonth() + 1).padStart(2, '0')}/${String(t.getUTCDate()).padStart(2, '0')}/${String(t.getUTCHours()).padStart(2, '0')}`;
    const key = `${first.tenant}/${first.signal}/${day}/obj-${String(++this.objectSerial).padStart(9, '0')}.otlpc`;
    let offset = 28;
    let startNs = first.startNs;
    let endNs = first.endNs;
    let rawBytes = 0;
    for (const r of requests) {
      r.objectKey = key;
      r.offset = offset;
      r.length = Math.floor(r.rawBytes / 8);
      offset += r.length + 16;
      rawBytes += r.rawBytes;
      if (r.startNs < startNs) startNs = r.startNs;
      if (r.endNs > endNs) endNs = r.endNs;
    }
    const object: ObjectMeta = {
      key,
      tenant: first.tenant,
      signal: first.signal,
      createdAtMs: first.receivedAtMs,
      sealedAtMs: last.receivedAtMs + 1000,
      requestCount: requests.length,
      rawBytes,
      storedBytes: offset + 1024,
      codec: 'gzip',
      startNs,
      endNs,
    };
    return { object, requests };
  }
}

function hex32(rand: () => number): string {
  let out = '';
  for (let i = 0; i < 4; i++) out += Math.floor(rand() * 2 ** 32).toString(16).padStart(8, '0');
  return out;
}
