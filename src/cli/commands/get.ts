import type { Command } from 'commander';
import { addServerOptions, addStoreOptions, openReadSide, tenantOption, type StoreOptions } from '../common.js';
import { reportAndExit } from '../exit.js';
import { checkPayloadDestination, payloadFormat, writePayload } from '../payload-output.js';

interface GetOptions extends StoreOptions {
  format: string;
  output?: string;
  tenant?: string;
}

export function registerGet(program: Command): void {
  addServerOptions(addStoreOptions(
    program
      .command('get')
      .description('write one captured request: its exact protobuf bytes, or OTLP JSON')
      .argument('<id>', 'request id (from list)')
      .option('-f, --format <format>', 'proto (exact bytes the client sent) or json (OTLP JSON)', 'proto')
      .option('-o, --output <file>', 'write to this file instead of stdout')
      .option('--tenant <tenant>', "only if the request belongs to this tenant (another tenant's id is not found)"),
  )).action(async (id: string, options: GetOptions) => {
    try {
      const format = payloadFormat(options.format);
      checkPayloadDestination(format, options.output);
      const tenant = tenantOption(options.tenant);
      const read = await openReadSide(options);
      try {
        const fetched = await read.query.getRequest(id, format, tenant);
        await writePayload(fetched.body, format, options.output);
      } finally {
        await read.close();
      }
    } catch (error) {
      reportAndExit(error);
    }
  });
}
