// `otlp-capture verify`: a scrub of the archive against its index. Every archive object in scope is read; each
// block is checked against the length and CRC-32 the index has for it; and the two sides are compared: objects the
// index points at that the blob store no longer has, objects the blob store has that the index does not know, and
// objects only partly indexed. With `repair`, objects missing from the index are indexed from their manifests (as
// reindex does), and requests whose block is damaged or whose object is missing are quarantined in the index, so
// that reads of them say why. Problems an earlier repair already quarantined are reported as known, not as new.
//
// Memory: the index rows in scope are held while the objects are read (about 100 bytes each).
import { OBJECT_KEY_SUFFIX } from '../archiver/object-key.js';
import { readObjectManifest } from '../archiver/object-reader.js';
import { CorruptDataError, NotFoundError } from '../errors.js';
import type { ObjectMeta } from '../model.js';
import type { BlobStore } from '../storage/blob-store.js';
import { pushAll } from '../util/arrays.js';
import { isUlid, ulidTimeMs } from '../util/ulid.js';
import type { IndexStore, QuarantinedRequest } from './index-store.js';
import { withTraceIds } from './reindex.js';
import { checkBlocks, type BlockLocation, type DamagedBlock } from './verify-blocks.js';

export interface VerifyOptions {
  /** Only objects whose key starts with this. */
  prefix?: string;
  /** Only this tenant's objects. */
  tenant?: string;
  /** Only objects created at or after this (unix ms; from the object id in the key, or the object row). */
  sinceMs?: number;
  /** Index objects missing from the index; quarantine requests whose block is damaged or object missing. */
  repair?: boolean;
  /**
   * Repair even when the blob store has none of the objects the index has in scope. Without it that is refused
   * before anything is read or written: it is what a wrong bucket, prefix or data directory looks like, and repairing
   * would quarantine every request in scope.
   */
  force?: boolean;
  /** Objects read at once. Default 4. */
  concurrency?: number;
  onProgress?(progress: VerifyProgress): void;
}

export interface VerifyProgress {
  objects: number;
  totalObjects: number;
  /** Stored bytes of the objects read so far, and of all in scope. */
  bytes: number;
  totalBytes: number;
  blocks: number;
  problems: number;
  elapsedMs: number;
}

/** Sample of request ids shown per finding (a missing object may have had 200,000). */
const SAMPLE_IDS = 10;

export interface VerifyReport extends VerifyProgress {
  /** Nothing is wrong (problems an earlier repair quarantined do not count). */
  ok: boolean;
  /** Index rows without their object: the blob store does not have it. */
  missingObjects: { key: string; requests: number; requestIds: string[] }[];
  /** Objects without index rows. `requests` from the manifest (null when it cannot be read). */
  unindexedObjects: { key: string; requests: number | null }[];
  /** Objects whose manifest lists requests the index lacks. */
  partlyIndexedObjects: { key: string; unindexedRequests: number; requestIds: string[] }[];
  /** Blocks that fail their checks, or are not where the index says. */
  damagedBlocks: (DamagedBlock & { key: string })[];
  /** Objects whose header, trailer or manifest is damaged (their blocks are still checked from the index). */
  unreadableObjects: { key: string; reason: string }[];
  /** Requests of missing objects or damaged blocks that an earlier `--repair` already quarantined. */
  alreadyQuarantined: number;
  repair: { indexedObjects: string[]; quarantinedRequests: number } | null;
}

type Manifest = Awaited<ReturnType<typeof readObjectManifest>>;

interface ObjectFindings {
  key: string;
  bytes: number;
  blocks: number;
  missing?: { requestIds: string[] };
  unindexed?: { requests: number | null };
  partly?: { requestIds: string[] };
  unreadable?: string;
  damaged: DamagedBlock[];
  /** Kept only for what repair indexes. */
  manifest?: Manifest;
}

export async function verify(blobs: BlobStore, index: IndexStore, options: VerifyOptions = {}): Promise<VerifyReport> {
  const started = Date.now();
  const scope = new Scope(options);
  // Object rows first: their creation time places an object whose key carries none (keys of other tools).
  const allObjectRows = await listObjectRows(index, scope);
  const createdAtOf = (key: string): number | undefined => allObjectRows.get(key)?.createdAtMs;
  const sizes = await listBlobObjects(blobs, scope, createdAtOf);
  const objectRows = new Map([...allObjectRows].filter(([key, object]) => scope.includes(key, object.createdAtMs)));
  const rows = await listRequestRows(index, scope, (key) => sizes.has(key) || objectRows.has(key), createdAtOf);
  const keys = [...new Set([...sizes.keys(), ...objectRows.keys(), ...rows.keys()])].sort(compareKeys);
  if (options.repair && !options.force && sizes.size === 0 && keys.length > 0) {
    throw new NotFoundError(
      `the blob store (${blobs.describe()}) has none of the ${keys.length} objects the index has in scope: is the storage ` +
        'configuration (bucket, prefix, data directory) the one this index belongs to? Nothing was changed; verify without ' +
        '--repair lists them, and --repair --force quarantines every request of them if they are really gone',
    );
  }

  const progress: VerifyProgress = {
    objects: 0,
    totalObjects: keys.length,
    bytes: 0,
    totalBytes: [...sizes.values()].reduce((sum, size) => sum + size, 0),
    blocks: 0,
    problems: 0,
    elapsedMs: 0,
  };
  const report = (): void => options.onProgress?.({ ...progress, elapsedMs: Date.now() - started });
  report();

  const findings: ObjectFindings[] = new Array(keys.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < keys.length; i = next++) {
      const key = keys[i]!;
      const found = await checkObject(blobs, key, sizes.get(key), objectRows.has(key), rows.get(key) ?? []);
      findings[i] = found;
      progress.objects += 1;
      progress.bytes += found.bytes;
      progress.blocks += found.blocks;
      progress.problems += problemCount(found);
      report();
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(options.concurrency ?? 4, keys.length)) }, worker));

  const known = await alreadyQuarantined(index, findings);
  const result = summarize(findings, known, progress, started);
  if (options.repair) result.repair = await repair(blobs, index, findings, known, options.concurrency ?? 4);
  return result;
}

/** Which objects (and rows of unknown objects) are in scope. */
class Scope {
  constructor(readonly options: VerifyOptions) {}

  /** What the blob store is listed by. */
  get listPrefix(): string {
    return this.options.prefix ?? (this.options.tenant === undefined ? '' : `${this.options.tenant}/`);
  }

  /** `createdAtMs` -Infinity: by prefix and tenant only. */
  includes(key: string, createdAtMs?: number): boolean {
    const { prefix, tenant, sinceMs } = this.options;
    if (prefix !== undefined && !key.startsWith(prefix)) return false;
    if (tenant !== undefined && !key.startsWith(`${tenant}/`)) return false;
    if (sinceMs === undefined || createdAtMs === -Infinity) return true;
    // The key's own time first: it is what the object was created with, whatever an index row says.
    const created = keyTimeMs(key) ?? createdAtMs;
    return created === undefined || created >= sinceMs;
  }
}

/** An object key ends in its ULID, which starts with its creation time. */
function keyTimeMs(key: string): number | undefined {
  const name = key.slice(key.lastIndexOf('/') + 1, key.endsWith(OBJECT_KEY_SUFFIX) ? -OBJECT_KEY_SUFFIX.length : undefined);
  return isUlid(name) ? ulidTimeMs(name) : undefined;
}

async function listBlobObjects(
  blobs: BlobStore,
  scope: Scope,
  createdAtOf: (key: string) => number | undefined,
): Promise<Map<string, number>> {
  const sizes = new Map<string, number>();
  for await (const info of blobs.list(scope.listPrefix)) {
    if (info.key.endsWith(OBJECT_KEY_SUFFIX) && scope.includes(info.key, createdAtOf(info.key))) sizes.set(info.key, info.size);
  }
  return sizes;
}

async function listObjectRows(index: IndexStore, scope: Scope): Promise<Map<string, ObjectMeta>> {
  const objects = new Map<string, ObjectMeta>();
  const tenant = scope.options.tenant;
  let afterKey: string | undefined = scope.listPrefix === '' ? undefined : scope.listPrefix;
  for (;;) {
    const page = await index.listObjects({ limit: 1000, ...(tenant === undefined ? {} : { tenant }), ...(afterKey === undefined ? {} : { afterKey }) });
    for (const object of page) if (scope.includes(object.key, -Infinity)) objects.set(object.key, object); // since: later
    const last = page.at(-1);
    if (last === undefined || page.length < 1000) break;
    if (scope.listPrefix !== '' && !last.key.startsWith(scope.listPrefix)) break; // keys sort: past the prefix
    afterKey = last.key;
  }
  return objects;
}

/** The index's request rows in scope, by object key, reduced to what checking a block needs. */
async function listRequestRows(
  index: IndexStore,
  scope: Scope,
  knownObject: (key: string) => boolean,
  createdAtOf: (key: string) => number | undefined,
): Promise<Map<string, BlockLocation[]>> {
  const byObject = new Map<string, BlockLocation[]>();
  const tenant = scope.options.tenant;
  let afterId: string | undefined;
  for (;;) {
    const page = await index.listRequests({ limit: 5000, ...(tenant === undefined ? {} : { tenant }), ...(afterId === undefined ? {} : { afterId }) });
    for (const r of page) {
      // Rows of an object neither side lists (it is missing): placed in time by the object row, else by the row.
      if (!knownObject(r.objectKey) && !scope.includes(r.objectKey, createdAtOf(r.objectKey) ?? r.receivedAtMs)) continue;
      const location: BlockLocation = { id: r.id, offset: r.offset, length: r.length, rawBytes: r.rawBytes, crc32: r.crc32, codec: r.codec };
      const list = byObject.get(r.objectKey);
      if (list) list.push(location);
      else byObject.set(r.objectKey, [location]);
    }
    if (page.length < 5000) break;
    afterId = page.at(-1)!.id;
  }
  return byObject;
}

async function checkObject(
  blobs: BlobStore,
  key: string,
  listedSize: number | undefined,
  hasObjectRow: boolean,
  rows: BlockLocation[],
): Promise<ObjectFindings> {
  // Listed late (written while listing) or gone since: ask once more before calling it missing.
  const size = listedSize ?? (await blobs.stat(key))?.size;
  const findings: ObjectFindings = { key, bytes: size ?? 0, blocks: 0, damaged: [] };
  if (size === undefined) {
    findings.missing = { requestIds: rows.map((r) => r.id) };
    return findings;
  }
  let manifest: Manifest | undefined;
  try {
    manifest = await readObjectManifest(blobs, key);
  } catch (error) {
    if (error instanceof NotFoundError) {
      findings.missing = { requestIds: rows.map((r) => r.id) };
      return findings;
    }
    if (!(error instanceof CorruptDataError)) throw error;
    findings.unreadable = error.message;
  }
  const indexed = rows.length > 0 || hasObjectRow;
  if (!indexed) {
    findings.unindexed = { requests: manifest?.requests.length ?? null };
    if (manifest) findings.manifest = manifest;
  } else if (manifest) {
    const have = new Set(rows.map((r) => r.id));
    const lacking = manifest.requests.filter((r) => !have.has(r.id)).map((r) => r.id);
    if (lacking.length > 0) {
      findings.partly = { requestIds: lacking };
      findings.manifest = manifest;
    }
  }
  const locations: BlockLocation[] = rows.length > 0 ? rows : (manifest?.requests ?? []);
  findings.blocks = locations.length;
  try {
    findings.damaged = await checkBlocks(blobs, key, size, locations);
  } catch (error) {
    if (!(error instanceof NotFoundError)) throw error;
    findings.missing = { requestIds: rows.map((r) => r.id) }; // deleted while being read
  }
  return findings;
}

function problemCount(f: ObjectFindings): number {
  return (f.missing ? 1 : 0) + (f.unindexed ? 1 : 0) + (f.partly ? 1 : 0) + (f.unreadable ? 1 : 0) + f.damaged.length;
}

/** Ids (of missing objects' rows and damaged blocks) already quarantined by an earlier repair. */
async function alreadyQuarantined(index: IndexStore, findings: readonly ObjectFindings[]): Promise<Map<string, QuarantinedRequest>> {
  const ids: string[] = [];
  for (const f of findings) {
    if (f.missing) pushAll(ids, f.missing.requestIds);
    for (const d of f.damaged) ids.push(d.requestId);
  }
  return ids.length === 0 ? new Map() : index.quarantinedRequests(ids);
}

function summarize(
  findings: readonly ObjectFindings[],
  known: ReadonlyMap<string, QuarantinedRequest>,
  progress: VerifyProgress,
  started: number,
): VerifyReport {
  const report: VerifyReport = {
    ...progress,
    elapsedMs: Date.now() - started,
    ok: true,
    missingObjects: [],
    unindexedObjects: [],
    partlyIndexedObjects: [],
    damagedBlocks: [],
    unreadableObjects: [],
    alreadyQuarantined: 0,
    repair: null,
  };
  for (const f of findings) {
    if (f.missing) {
      const open = f.missing.requestIds.filter((id) => !known.has(id));
      report.alreadyQuarantined += f.missing.requestIds.length - open.length;
      // An object row alone (no request rows) is reported too: the index still lists the object.
      if (open.length > 0 || f.missing.requestIds.length === 0) {
        report.missingObjects.push({ key: f.key, requests: open.length, requestIds: open.slice(0, SAMPLE_IDS) });
      }
    }
    if (f.unindexed) report.unindexedObjects.push({ key: f.key, requests: f.unindexed.requests });
    if (f.partly) {
      report.partlyIndexedObjects.push({ key: f.key, unindexedRequests: f.partly.requestIds.length, requestIds: f.partly.requestIds.slice(0, SAMPLE_IDS) });
    }
    if (f.unreadable) report.unreadableObjects.push({ key: f.key, reason: f.unreadable });
    for (const d of f.damaged) {
      if (known.has(d.requestId)) report.alreadyQuarantined += 1;
      else report.damagedBlocks.push({ key: f.key, ...d });
    }
  }
  report.problems =
    report.missingObjects.length +
    report.unindexedObjects.length +
    report.partlyIndexedObjects.length +
    report.unreadableObjects.length +
    report.damagedBlocks.length;
  report.ok = report.problems === 0;
  return report;
}

async function repair(
  blobs: BlobStore,
  index: IndexStore,
  findings: readonly ObjectFindings[],
  known: ReadonlyMap<string, QuarantinedRequest>,
  concurrency: number,
): Promise<NonNullable<VerifyReport['repair']>> {
  const indexedObjects: string[] = [];
  const atMs = Date.now();
  const entries: QuarantinedRequest[] = [];
  for (const f of findings) {
    if (f.manifest && (f.unindexed || f.partly)) {
      const read = await withTraceIds(blobs, f.manifest, concurrency);
      if (read.ok) {
        await index.commitObject(read.manifest.object, read.manifest.requests);
        indexedObjects.push(f.key);
      }
    }
    if (f.missing) {
      for (const id of f.missing.requestIds) {
        if (!known.has(id)) entries.push({ id, reason: `archive object ${f.key} is missing from the blob store`, atMs });
      }
    }
    for (const d of f.damaged) {
      if (known.has(d.requestId)) continue;
      entries.push({ id: d.requestId, reason: `block at offset ${d.offset} (${d.length} bytes) of ${f.key}: ${d.reason}`, atMs });
    }
  }
  for (let i = 0; i < entries.length; i += 1000) await index.quarantineRequests(entries.slice(i, i + 1000));
  return { indexedObjects, quarantinedRequests: entries.length };
}

function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}
