// ListObjects' page_token: the key the page stopped after, and a digest of the filters (tenant, signal) of the listing
// it continues. A bare key was taken as given, so a mistyped or tampered token, or one from a listing with other
// filters, silently paged from somewhere else; now each is INVALID_ARGUMENT naming page_token (as ListRequests'
// tokens are, src/query/request-cursor.ts). Keys are listed in key order, so the token stays valid while objects are
// added or removed (keyset paging): it never expires.
import { createHash } from 'node:crypto';
import { InvalidArgumentError } from '../errors.js';

const PREFIX = 'o1.';
/** "<digest>:<key>"; object keys are short (<tenant>/<signal>/YYYY/MM/DD/HH/<ulid>.otlpc), 1024 is far beyond any. */
const TOKEN_TEXT = /^([A-Za-z0-9_-]{11}):([^\0]{1,1024})$/;

export interface ObjectListing {
  tenant?: string;
  signal?: string;
}

function listingDigest(listing: ObjectListing): string {
  const canonical = JSON.stringify([listing.tenant ?? null, listing.signal ?? null]);
  return createHash('sha256').update(canonical).digest('base64url').slice(0, 11);
}

export function encodeObjectPageToken(listing: ObjectListing, afterKey: string): string {
  return PREFIX + Buffer.from(`${listingDigest(listing)}:${afterKey}`, 'utf8').toString('base64url');
}

/** The key to list after. @throws InvalidArgumentError for a token ListObjects did not issue for this listing. */
export function decodeObjectPageToken(token: string, listing: ObjectListing): string {
  const body = token.startsWith(PREFIX) ? token.slice(PREFIX.length) : '';
  const text = /^[A-Za-z0-9_-]+$/.test(body) ? Buffer.from(body, 'base64url').toString('utf8') : '';
  const match = TOKEN_TEXT.exec(text);
  if (!match) {
    throw new InvalidArgumentError('page_token is not one that ListObjects returned: pass next_page_token back unchanged');
  }
  if (match[1] !== listingDigest(listing)) {
    throw new InvalidArgumentError(
      'page_token continues a listing with other filters (signal, tenant): send the same filters as the call that returned it',
    );
  }
  return match[2]!;
}
