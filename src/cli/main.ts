// otlp-capture command line.
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { registerExport } from './commands/export.js';
import { registerFindTrace } from './commands/find-trace.js';
import { registerGet } from './commands/get.js';
import { registerList } from './commands/list.js';
import { registerTail } from './commands/tail.js';
import { registerNotify } from './commands/notify.js';
import { registerReindex } from './commands/reindex.js';
import { registerReplay } from './commands/replay.js';
import { registerRetention } from './commands/retention.js';
import { registerServe } from './commands/serve.js';
import { EXIT_USAGE } from './exit.js';
import { handleClosedPipes } from './stdio.js';
import { registerVerify } from './commands/verify.js';

const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

const program = new Command()
  .name('otlp-capture')
  .description('Durable OTLP capture for the OpenTelemetry Collector: archive, index, list and fetch telemetry.')
  .version(version)
  .showHelpAfterError()
  // Commander ends usage errors (unknown option, missing value or required option) with 1; the CLI's contract is 2.
  .exitOverride((error) => process.exit(error.exitCode === 0 ? 0 : EXIT_USAGE));

// `otlp-capture list | head -1`: a reader that stops early ends the command quietly, not with a stack trace.
handleClosedPipes();

registerServe(program);
registerList(program);
registerGet(program);
registerTail(program);
registerFindTrace(program);
registerReplay(program);
registerExport(program);
registerNotify(program);
registerReindex(program);
registerRetention(program);
registerVerify(program);

await program.parseAsync(process.argv);
