// otlp-capture command line.
import { Command } from 'commander';
import { registerGet } from './commands/get.js';
import { registerList } from './commands/list.js';
import { registerServe } from './commands/serve.js';

const program = new Command()
  .name('otlp-capture')
  .description('Durable OTLP capture for the OpenTelemetry Collector: archive, index, list and fetch telemetry.')
  .version('0.1.0')
  .showHelpAfterError();

registerServe(program);
registerList(program);
registerGet(program);

await program.parseAsync(process.argv);
