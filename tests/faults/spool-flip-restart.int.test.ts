// The case, end to end: 20 requests acknowledged by a real `serve` (fsync'd, not yet archived), the server
// killed, one byte of the spool flipped (bit rot, a bad sector), the server started again: 19 of 20 come back byte
// for byte, the damaged one is in spool/quarantine/, and otlpcapture_spool_corrupt_records_total says 1. Once with
// the byte inside a record's payload, once inside a record's header.
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { decodePrefix, PREFIX_BYTES } from '../../src/spool/record-codec.js';
import { SEGMENT_HEADER_BYTES } from '../../src/spool/segment-format.js';
import { requestFingerprint } from '../../src/util/fingerprint.js';
import { readArchive } from '../helpers/archive-reader.js';
import { listJson, allArchived } from '../helpers/capture-cli.js';
import { RawOtlpClient } from '../helpers/raw-otlp-client.js';
import { startServer } from '../helpers/server-process.js';
import { uniqueTraceRequest } from '../helpers/small-requests.js';
import { waitFor } from '../helpers/wait.js';

const sha = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'otlp-capture-flip-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** The frames of a format-2 segment: offset, header length, payload length. */
function frames(segment: Buffer): { offset: number; headerLength: number; payloadLength: number; length: number }[] {
  const out = [];
  for (let at = SEGMENT_HEADER_BYTES; at < segment.length; ) {
    const prefix = decodePrefix(segment.subarray(at, at + PREFIX_BYTES))!;
    out.push({ offset: at, headerLength: prefix.headerLength, payloadLength: prefix.payloadLength, length: prefix.length });
    at += prefix.length;
  }
  return out;
}

async function metric(adminPort: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? NaN : Number(line.split(' ')[1]);
}

for (const where of ['payload', 'header'] as const) {
  test(`one byte flipped inside a record's ${where}: 19 of 20 come back byte-identical, the 20th is quarantined and counted`, async () => {
    const data = path.join(dir, 'data');
    const keepOpen = path.join(dir, 'keep-open.yaml');
    writeFileSync(keepOpen, 'archiver:\n  maxObjectAge: 1h\nlog:\n  level: warn\n');
    const first = await startServer(['--config', keepOpen, '--data-dir', data]);
    const client = new RawOtlpClient(first.grpcAddress);
    const sent: Buffer[] = [];
    for (let n = 0; n < 20; n += 1) {
      const payload = uniqueTraceRequest(n, 2000 + n * 50);
      expect(await client.export('traces', payload)).toEqual({ ok: true });
      sent.push(payload);
    }
    client.close();
    await first.stop('SIGKILL');

    // Acknowledged and still in the spool: one segment, 20 records.
    const spoolDir = path.join(data, 'spool');
    const [segmentName] = readdirSync(spoolDir).filter((n) => n.endsWith('.spool'));
    const segmentPath = path.join(spoolDir, segmentName!);
    const segment = readFileSync(segmentPath);
    const laid = frames(segment);
    expect(laid).toHaveLength(20);
    const victim = laid[7]!;
    const at = where === 'payload'
      ? victim.offset + PREFIX_BYTES + victim.headerLength + Math.floor(victim.payloadLength / 2)
      : victim.offset + PREFIX_BYTES + 12; // inside the meta JSON
    const metaAt = (f: { offset: number; headerLength: number }): { id: string; fingerprint: string } =>
      JSON.parse(segment.subarray(f.offset + PREFIX_BYTES, f.offset + PREFIX_BYTES + f.headerLength).toString());
    const lostId = metaAt(victim).id;
    // Ingest fingerprinted every request: xxh64 of its raw bytes, in the spool meta.
    expect(laid.map((f) => metaAt(f).fingerprint)).toEqual(sent.map((p) => requestFingerprint(p)));
    segment[at] = segment[at]! ^ 0x04;
    writeFileSync(segmentPath, segment);

    const archiveSoon = path.join(dir, 'archive-soon.yaml');
    writeFileSync(archiveSoon, 'archiver:\n  maxObjectAge: 250ms\nlog:\n  level: warn\n');
    const second = await startServer(['--config', archiveSoon, '--data-dir', data]);
    try {
      const listed = await waitFor('19 requests archived', async () => {
        const rows = await listJson(data);
        return allArchived(rows, 19) ? rows : undefined;
      }, 30_000);
      expect(listed).toHaveLength(19);
      expect(listed.map((r) => r.id)).not.toContain(lostId);
      const archived = await readArchive(data);
      const expected = sent.filter((_, i) => i !== 7).map(sha).sort();
      expect(archived.map((a) => sha(a.bytes)).sort()).toEqual(expected);

      const quarantine = path.join(spoolDir, 'quarantine');
      const sidecars = readdirSync(quarantine).filter((n) => n.endsWith('.json'));
      expect(sidecars).toHaveLength(1);
      const sidecar = JSON.parse(readFileSync(path.join(quarantine, sidecars[0]!), 'utf8'));
      expect(sidecar).toMatchObject({ offset: victim.offset, length: victim.length, source: 'recovery' });
      expect(sidecar.reason).toBe(where === 'payload' ? 'payload CRC mismatch' : 'header CRC mismatch');
      if (where === 'payload') expect(sidecar.requestId).toBe(lostId); // the header survived
      const saved = readFileSync(path.join(quarantine, sidecar.bytesFile));
      expect(saved.equals(segment.subarray(victim.offset, victim.offset + victim.length))).toBe(true);

      expect(await metric(second.adminPort, 'otlpcapture_spool_corrupt_records_total')).toBe(1);
      expect(await metric(second.adminPort, 'otlpcapture_spool_corrupt_bytes_total')).toBe(victim.length);
      expect(second.output()).toMatch(/"level":"error".*damaged spool data moved to quarantine/);
      expect((await fetch(`http://127.0.0.1:${second.adminPort}/readyz`)).status).toBe(200);
    } finally {
      await second.stop();
    }
  }, 90_000);
}
