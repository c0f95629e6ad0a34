// A journal document that is not an entry this version wrote is neither finished nor undone: it fails with a message
// that says why, and stays for a person (before, it came out as "recovered undefined of undefined" and stayed silently).
import { recoverJournal } from '../../src/retention/recovery.js';
import type { JournalEntry } from '../../src/retention/journal.js';
import type { OperationDeps } from '../../src/retention/operations.js';

const untouchable = new Proxy({}, { get: () => { throw new Error('recovery must not touch the archive for a malformed entry'); } }) as OperationDeps;

test.each([
  [{}, /no oldKey; phase missing .*; action missing/],
  [{ oldKey: 'traces/a.otlpc', phase: 'shred', action: 'delete', policy: 'p', owner: 'o', updatedAtMs: 1 }, /"traces\/a\.otlpc".*phase "shred" is not delete, copy, switch or cleanup/],
  [{ oldKey: 'traces/a.otlpc', phase: 'copy', action: 'compress', newKey: 7, policy: 'p', owner: 'o', updatedAtMs: 1 }, /newKey is not a string/],
])('a malformed entry %j fails with the reason and is left for a person', async (entry, reason) => {
  const [recovered] = await recoverJournal(untouchable, [entry as unknown as JournalEntry]);
  expect(recovered!.outcome).toBe('failed');
  expect(recovered!.error).toMatch(reason);
  expect(recovered!.error).toMatch(/left in _retention\/journal\/ for a person/);
});
