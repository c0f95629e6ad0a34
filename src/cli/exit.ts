// How CLI commands end: typed errors become one clear line on stderr and a meaningful exit code.
import { BackendUnavailableError, ConfigError, InvalidArgumentError, NotFoundError, OtlpCaptureError } from '../errors.js';

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

export class UsageError extends OtlpCaptureError {}

export function exitCodeFor(error: unknown): number {
  if (error instanceof ConfigError || error instanceof UsageError || error instanceof InvalidArgumentError) return EXIT_USAGE;
  if (error instanceof NotFoundError || error instanceof BackendUnavailableError) return EXIT_FAILURE;
  return EXIT_FAILURE;
}

export function reportAndExit(error: unknown): never {
  const expected = error instanceof OtlpCaptureError;
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`otlp-capture: ${message}\n`);
  if (!expected && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
  process.exit(exitCodeFor(error));
}
