// otlp-capture command line.
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { registerFindTrace } from './commands/find-trace.js';
import { registerGet } from './commands/get.js';
import { registerList } from './commands/list.js';
import { registerNotify } from './commands/notify.js';
import { registerReindex } from './commands/reindex.js';
import { registerReplay } from './commands/replay.js';
import { registerRetention } from './commands/retention.js';
import { registerServe } from './commands/serve.js';
import { registerVerify } from './commands/verify.js';

const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

const program = new Command()
  .name('otlp-capture')
  .description('Durable OTLP capture for the OpenTelemetry Collector: archive, index, list and fetch telemetry.')
  .version(version)
  .showHelpAfterError();

registerServe(program);
registerList(program);
registerGet(program);
registerFindTrace(program);
registerReplay(program);
registerNotify(program);
registerReindex(program);
registerRetention(program);
registerVerify(program);

await program.parseAsync(process.argv);
