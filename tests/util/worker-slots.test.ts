// Workers get the process's Node flags minus --input-type, which a worker cannot take: both pools, checked in a process
// started the way tools and tests embed the CLI (`node --input-type=module -e …`) against the built dist/.
import { execFileSync } from 'node:child_process';
import { pathToFileURL, fileURLToPath } from 'node:url';
import { workerExecArgv } from '../../src/util/worker-slots.js';

const dist = (file: string): string => pathToFileURL(fileURLToPath(new URL(`../../dist/${file}`, import.meta.url))).href;

test('--input-type is left out, in both spellings; other flags are kept', () => {
  expect(workerExecArgv(['--input-type=module', '--max-old-space-size=512'])).toEqual(['--max-old-space-size=512']);
  expect(workerExecArgv(['--input-type', 'commonjs', '--enable-source-maps'])).toEqual(['--enable-source-maps']);
  expect(workerExecArgv([])).toEqual([]);
});

test('the zstd and OTLP/JSON pools work in a process started with --input-type=module -e', () => {
  const script = [
    `const z = await import(${JSON.stringify(dist('compression/zstd-workers.js'))});`,
    `const j = await import(${JSON.stringify(dist('otlp/json-workers.js'))});`,
    "const raw = Buffer.from('otlp-capture '.repeat(1000));",
    'const back = await z.zstdDecompressExact(await z.zstdCompress(raw, 1), raw.length);',
    "const json = Buffer.from(JSON.stringify({ resourceSpans: [] }) + ' '.repeat(4096));",
    "const proto = await j.parseOtlpJsonOffThread('traces', json);",
    "console.log(back.equals(raw), proto.length);",
    'await z.closeZstdWorkers(); await j.closeJsonWorkers();',
  ].join('\n');
  expect(execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30_000 }).trim()).toBe('true 0');
});
