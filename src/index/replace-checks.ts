// What both adapters refuse in IndexStore.replaceObject before touching anything: a request located outside the new
// object, and (dedup) removed ids that would leave rows behind under a key that stays, or that the call also moves.
import { InvalidArgumentError } from '../errors.js';
import type { ArchivedRequest, ObjectMeta } from '../model.js';

export function checkReplacement(oldKey: string, newObject: ObjectMeta, requests: readonly ArchivedRequest[], removedIds: readonly string[]): void {
  for (const r of requests) {
    if (r.objectKey !== newObject.key) {
      throw new InvalidArgumentError(`request ${r.id} is located in ${r.objectKey}, not in the new object ${newObject.key}`);
    }
  }
  if (removedIds.length === 0) return;
  // Removal rides on retiring the old key (ClickHouse hides and purges rows by key), so the key must change.
  if (oldKey === newObject.key) throw new InvalidArgumentError(`requests can only be removed from ${oldKey} while it is replaced under a new key`);
  const moved = new Set(requests.map((r) => r.id));
  const both = removedIds.find((id) => moved.has(id));
  if (both !== undefined) throw new InvalidArgumentError(`request ${both} is both moved to ${newObject.key} and removed`);
}
