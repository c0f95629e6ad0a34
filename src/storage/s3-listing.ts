// ListObjectsV2 paging that never ends early in silence. A listing feeds reindex and retention: a page quietly
// dropped is objects quietly missing from the index or never expired.
//
// S3 returns NextContinuationToken with every truncated page, and s3rver does too; some S3-compatible servers answer
// IsTruncated=true without one (or hand back the token just used). Then the listing goes on after the last key the
// page held (StartAfter, which every ListObjectsV2 implementation has), and a server that does not move forward even
// so is an error — never the end of the listing.
import type { _Object, ListObjectsV2CommandInput, S3Client } from '@aws-sdk/client-s3';
import { s3Sdk } from './aws-sdk.js';
import { BackendUnavailableError } from '../errors.js';

const { ListObjectsV2Command } = s3Sdk;

export interface ListPagesInput {
  Bucket: string;
  Prefix?: string;
  MaxKeys?: number;
}

/** S3's listing order: keys compared as UTF-8 bytes. */
export function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/**
 * Every page of objects under `input.Prefix`, in the server's order. `toError` turns a failed request into the error
 * callers see; `where` names the listing in the error for a listing that cannot continue.
 */
export async function* listObjectPages(
  client: S3Client,
  input: ListPagesInput,
  where: string,
  toError: (error: unknown) => Error,
): AsyncIterable<_Object[]> {
  let token: string | undefined;
  let startAfter: string | undefined;
  for (;;) {
    const request: ListObjectsV2CommandInput = { ...input };
    if (token !== undefined) request.ContinuationToken = token;
    else if (startAfter !== undefined) request.StartAfter = startAfter;
    let page;
    try {
      page = await client.send(new ListObjectsV2Command(request));
    } catch (error) {
      throw toError(error);
    }
    const after = request.StartAfter;
    // A server that ignored StartAfter sends keys again that were listed already.
    const contents = (page.Contents ?? []).filter((object) => after === undefined || object.Key === undefined || compareKeys(object.Key, after) > 0);
    yield contents;
    if (page.IsTruncated !== true) return;
    const next = page.NextContinuationToken;
    if (next !== undefined && next !== '' && next !== token) {
      token = next;
      continue;
    }
    let last: string | undefined;
    for (const object of contents) {
      if (object.Key !== undefined && (last === undefined || compareKeys(object.Key, last) > 0)) last = object.Key;
    }
    if (last === undefined) {
      throw new BackendUnavailableError(
        `S3 listing of ${where} says it is truncated but cannot be continued: the server sent ` +
          `${next === undefined || next === '' ? 'no NextContinuationToken' : 'the same continuation token again'}, ` +
          'and listing after the last key returned nothing new',
      );
    }
    token = undefined;
    startAfter = last;
  }
}
