// Reads a data dir in-process, as `list`/`get` do, for tests that check thousands of requests (one CLI process
// per request would take minutes). The CLI itself is exercised by the end-to-end tests.
import { openReadSide } from '../../src/cli/common.js';
import type { ArchivedRequest } from '../../src/model.js';

export async function readArchive(dataDir: string): Promise<{ request: ArchivedRequest; bytes: Buffer }[]> {
  const read = await openReadSide({ dataDir });
  try {
    const rows = await read.query.listRequests({ limit: 1_000_000 });
    const out: { request: ArchivedRequest; bytes: Buffer }[] = [];
    for (const request of rows) out.push({ request, bytes: (await read.query.getRequest(request.id, 'proto')).body });
    return out;
  } finally {
    await read.close();
  }
}
