// The read side shared by the CLI and CaptureService: list what was captured, fetch one request's bytes.
import { readRequestBytes } from '../archiver/object-reader.js';
import { NotFoundError } from '../errors.js';
import type { IndexStore } from '../index/index-store.js';
import type { ArchivedRequest, RequestFilter } from '../model.js';
import { toOtlpJson } from '../otlp/json.js';
import type { BlobStore } from '../storage/blob-store.js';

export type PayloadFormat = 'proto' | 'json';

export interface FetchedRequest {
  request: ArchivedRequest;
  /** Raw protobuf bytes as the client sent them, or OTLP JSON text. */
  body: Buffer;
}

export class QueryService {
  constructor(private readonly index: IndexStore, private readonly blobs: BlobStore) {}

  listRequests(filter: RequestFilter): Promise<ArchivedRequest[]> {
    return this.index.listRequests(filter);
  }

  /** `tenant` (when given) must own the request: another tenant's id is reported as not found. */
  async getRequest(id: string, format: PayloadFormat, tenant?: string): Promise<FetchedRequest> {
    const request = await this.index.getRequest(id);
    if (!request || (tenant !== undefined && request.tenant !== tenant)) {
      throw new NotFoundError(`no captured request with id ${JSON.stringify(id)}`);
    }
    const raw = await readRequestBytes(this.blobs, request);
    if (format === 'proto') return { request, body: raw };
    return { request, body: Buffer.from(JSON.stringify(toOtlpJson(request.signal, raw))) };
  }
}
