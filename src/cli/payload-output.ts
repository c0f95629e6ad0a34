// How `get` and `find-trace` take --format and write what they fetched to --output or stdout.
import { writeFile } from 'node:fs/promises';
import type { PayloadFormat } from '../query/query-service.js';
import { UsageError } from './exit.js';

export function payloadFormat(value: string): PayloadFormat {
  if (value !== 'proto' && value !== 'json') throw new UsageError(`--format must be proto or json, not ${JSON.stringify(value)}`);
  return value;
}

/** JSON ends with a newline (it is text); proto bytes are written exactly. */
export async function writePayload(body: Buffer, format: PayloadFormat, output: string | undefined): Promise<void> {
  const bytes = format === 'json' ? Buffer.concat([body, Buffer.from('\n')]) : body;
  if (output) await writeFile(output, bytes);
  else await new Promise<void>((resolve, reject) => process.stdout.write(bytes, (error) => (error ? reject(error) : resolve())));
}
