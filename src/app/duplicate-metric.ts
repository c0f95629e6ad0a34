// otlpcapture_duplicate_requests_total: counted when the archiver has committed an object to the index, by asking the
// index (the same earlier-twin lookup reads use, src/query/dedup.ts) which of the object's requests repeat an earlier
// one. The index decides, so retries that reached another instance, or arrived before a restart, are counted too; each
// request is counted by the instance that archived it, once (a re-commit after a crash may count it again). Counting
// runs after the commit and never holds up or fails archiving.
import type { IndexStore } from '../index/index-store.js';
import type { ArchivedRequest, ObjectMeta } from '../model.js';
import { DedupStage } from '../query/dedup.js';
import type { Logger } from '../telemetry/logger.js';

export interface DuplicateCounter {
  inc(labels: { signal: string }, value: number): void;
}

/** `index` with a commitObject that, once the commit is durable, counts the object's duplicates. */
export function countingDuplicates(index: IndexStore, windowMs: number, counter: DuplicateCounter, logger: Logger): IndexStore {
  if (windowMs <= 0) return index;
  const stage = new DedupStage(windowMs, [(ranges) => index.findTwins(ranges)]);
  const count = async (object: ObjectMeta, requests: readonly ArchivedRequest[]): Promise<void> => {
    const duplicates = (await stage.earlierTwins(requests)).size;
    if (duplicates > 0) counter.inc({ signal: object.signal }, duplicates);
  };
  return new Proxy(index, {
    get(target, property, receiver) {
      if (property !== 'commitObject') {
        const value: unknown = Reflect.get(target, property, receiver);
        return typeof value === 'function' ? value.bind(target) : value;
      }
      return async (object: ObjectMeta, requests: ArchivedRequest[]): Promise<void> => {
        await target.commitObject(object, requests);
        count(object, requests).catch((error: unknown) => logger.warn({ err: error, object: object.key }, 'could not count duplicate requests'));
      };
    },
  });
}
