import { writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import type { PayloadFormat } from '../../query/query-service.js';
import { parseTraceId } from '../../query/trace-id.js';
import { addStoreOptions, openReadSide, tenantOption, type StoreOptions } from '../common.js';
import { reportAndExit, UsageError } from '../exit.js';

interface FindTraceOptions extends StoreOptions {
  format: string;
  output?: string;
  tenant?: string;
}

export function registerFindTrace(program: Command): void {
  addStoreOptions(
    program
      .command('find-trace')
      .description('every archived span of one trace, as one OTLP ExportTraceServiceRequest (protobuf or OTLP JSON)')
      .argument('<trace-id>', '32 hexadecimal digits')
      .option('-f, --format <format>', 'proto (ExportTraceServiceRequest bytes) or json (OTLP JSON)', 'proto')
      .option('-o, --output <file>', 'write to this file instead of stdout')
      .option('--tenant <tenant>', "only this tenant's requests"),
  ).action(async (traceId: string, options: FindTraceOptions) => {
    try {
      if (options.format !== 'proto' && options.format !== 'json') {
        throw new UsageError(`--format must be proto or json, not ${JSON.stringify(options.format)}`);
      }
      // Checked before the index is opened: a typo is a usage error (exit 2), not a lookup.
      const id = parseTraceId(traceId);
      const tenant = tenantOption(options.tenant);
      const read = await openReadSide(options);
      try {
        const found = await read.query.findTrace(id, options.format as PayloadFormat, tenant);
        const body = options.format === 'json' ? Buffer.concat([found.body, Buffer.from('\n')]) : found.body;
        if (options.output) await writeFile(options.output, body);
        else await new Promise<void>((resolve, reject) => process.stdout.write(body, (error) => (error ? reject(error) : resolve())));
      } finally {
        await read.close();
      }
    } catch (error) {
      reportAndExit(error);
    }
  });
}
