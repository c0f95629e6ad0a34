// The export benchmark's baseline, as a process of its own: read (range read, decompress, CRC check) every request of
// an archive in id order, the way `export` does (QueryService paging + read-ahead), and do nothing with the bytes.
// Every export costs at least this. Prints one JSON line: { requests, bytes, seconds }.
//
//   node bench/dist/bench/export-read.js DATA_DIR
import { openReadSide } from '../src/cli/common.js';
import { selectRequests } from '../src/export/selection.js';
import { readAhead } from '../src/replay/read-ahead.js';

const dataDir = process.argv[2];
if (dataDir === undefined) throw new Error('usage: export-read.js DATA_DIR');
const read = await openReadSide({ dataDir });
try {
  const started = performance.now();
  let requests = 0;
  let bytes = 0;
  for await (const item of readAhead({ index: read.query.index, blobs: read.blobs }, selectRequests(read.query, {}), 16, 64 * 2 ** 20)) {
    bytes += (await item.bytes).length;
    requests += 1;
  }
  process.stdout.write(`${JSON.stringify({ requests, bytes, seconds: (performance.now() - started) / 1000 })}\n`);
} finally {
  await read.close();
}
