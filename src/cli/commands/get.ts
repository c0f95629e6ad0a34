import { writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import type { PayloadFormat } from '../../query/query-service.js';
import { addStoreOptions, openReadSide, tenantOption, type StoreOptions } from '../common.js';
import { reportAndExit, UsageError } from '../exit.js';

interface GetOptions extends StoreOptions {
  format: string;
  output?: string;
  tenant?: string;
}

export function registerGet(program: Command): void {
  addStoreOptions(
    program
      .command('get')
      .description('write one captured request: its exact protobuf bytes, or OTLP JSON')
      .argument('<id>', 'request id (from list)')
      .option('-f, --format <format>', 'proto (exact bytes the client sent) or json (OTLP JSON)', 'proto')
      .option('-o, --output <file>', 'write to this file instead of stdout')
      .option('--tenant <tenant>', "only if the request belongs to this tenant (another tenant's id is not found)"),
  ).action(async (id: string, options: GetOptions) => {
    try {
      if (options.format !== 'proto' && options.format !== 'json') {
        throw new UsageError(`--format must be proto or json, not ${JSON.stringify(options.format)}`);
      }
      const tenant = tenantOption(options.tenant);
      const read = await openReadSide(options);
      try {
        const fetched = await read.query.getRequest(id, options.format as PayloadFormat, tenant);
        const body = options.format === 'json' ? Buffer.concat([fetched.body, Buffer.from('\n')]) : fetched.body;
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
