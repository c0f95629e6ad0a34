import type { Command } from 'commander';
import { parseTraceId } from '../../query/trace-id.js';
import { addServerOptions, addStoreOptions, openReadSide, tenantOption, type StoreOptions } from '../common.js';
import { reportAndExit } from '../exit.js';
import { checkPayloadDestination, payloadFormat, writePayload } from '../payload-output.js';

interface FindTraceOptions extends StoreOptions {
  format: string;
  output?: string;
  tenant?: string;
  withDuplicates?: boolean;
}

export function registerFindTrace(program: Command): void {
  addServerOptions(addStoreOptions(
    program
      .command('find-trace')
      .description('every archived span of one trace, as one OTLP ExportTraceServiceRequest (protobuf or OTLP JSON)')
      .argument('<trace-id>', '32 hexadecimal digits')
      .option('-f, --format <format>', 'proto (ExportTraceServiceRequest bytes) or json (OTLP JSON)', 'proto')
      .option('-o, --output <file>', 'write to this file instead of stdout')
      .option('--tenant <tenant>', "only this tenant's requests")
      .option('--with-duplicates', 'also read retries of the requests holding the trace (their spans then appear again)'),
  )).action(async (traceId: string, options: FindTraceOptions) => {
    try {
      const format = payloadFormat(options.format);
      checkPayloadDestination(format, options.output);
      // Checked before the index is opened: a typo is a usage error (exit 2), not a lookup.
      const id = parseTraceId(traceId);
      const tenant = tenantOption(options.tenant);
      const read = await openReadSide(options);
      try {
        const found = await read.query.findTrace(id, format, tenant, { withDuplicates: options.withDuplicates === true });
        await writePayload(found.body, format, options.output);
        const untraced = (await read.index.untracedTraceRequests?.()) ?? 0;
        if (untraced > 0) process.stderr.write(untracedWarning(untraced));
      } finally {
        await read.close();
      }
    } catch (error) {
      reportAndExit(error);
    }
  });
}

/** Said after the answer, which may be incomplete: never a silent miss. */
function untracedWarning(count: number): string {
  return (
    `otlp-capture: warning: ${count} trace request${count === 1 ? '' : 's'} archived by an otlp-capture older than its trace ` +
    `index (SQLite index schema 1) ${count === 1 ? 'is' : 'are'} not searched by find-trace; run \`otlp-capture reindex\` once to add ` +
    `${count === 1 ? 'it' : 'them'}\n`
  );
}
