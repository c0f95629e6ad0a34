// The opaque cursor that continues a listing (CLI `list --after`, CaptureService page_token): where the listing
// stopped (the last id shown), in which order, and a digest of the selection it belongs to, so a cursor given with
// other filters is refused instead of silently paging through something else. Text: "c1." + base64url of
// "<o|n>:<last id>:<digest>". Paging is keyset (see IndexStore.listRequests): stable under concurrent inserts.
import { createHash } from 'node:crypto';
import { InvalidArgumentError } from '../errors.js';
import type { RequestFilter } from '../model.js';

/** The filters that make a selection (no paging fields). */
export type Selection = Pick<RequestFilter, 'signal' | 'service' | 'tenant' | 'sinceNs' | 'untilNs'>;

export interface CursorPosition {
  newestFirst: boolean;
  afterId: string;
}

const PREFIX = 'c1.';

function selectionDigest(selection: Selection): string {
  const canonical = JSON.stringify([
    selection.signal ?? null,
    selection.service ?? null,
    selection.tenant ?? null,
    selection.sinceNs?.toString() ?? null,
    selection.untilNs?.toString() ?? null,
  ]);
  return createHash('sha256').update(canonical).digest('base64url').slice(0, 11);
}

export function encodeCursor(selection: Selection, position: CursorPosition): string {
  const text = `${position.newestFirst ? 'n' : 'o'}:${position.afterId}:${selectionDigest(selection)}`;
  return PREFIX + Buffer.from(text, 'utf8').toString('base64url');
}

/** @throws InvalidArgumentError for text that is not a cursor, or a cursor of another selection. */
export function decodeCursor(token: string, selection: Selection): CursorPosition {
  const text = token.startsWith(PREFIX) ? Buffer.from(token.slice(PREFIX.length), 'base64url').toString('utf8') : '';
  const match = /^([on]):([0-9A-HJKMNP-TV-Z]{26}):([A-Za-z0-9_-]{11})$/.exec(text);
  if (!match) throw new InvalidArgumentError(`${JSON.stringify(token.slice(0, 80))} is not a listing cursor (one that a listing printed)`);
  if (match[3] !== selectionDigest(selection)) {
    throw new InvalidArgumentError('this cursor continues a listing with other filters: give the same --signal/--service/--tenant/--since/--until as that listing');
  }
  return { newestFirst: match[1] === 'n', afterId: match[2]! };
}
