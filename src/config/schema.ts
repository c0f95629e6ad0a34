// The one configuration schema. Every key has a default, so an empty file (or none) runs the embedded default.
import { z } from 'zod';
import { isValidTenant } from '../admission/tenant.js';
import { CODECS } from '../model.js';
import { parseBytes, parseDuration, parseListen } from './units.js';

const SIZE_EXPECTED = 'expected a size such as 64MiB or 1048576';
const DURATION_EXPECTED = 'expected a duration such as 60s, 5m or 1h30m';

/** What a wrong-typed value (a list, a mapping, true) was, for messages that say what was given. */
function given(value: unknown): string {
  return value === undefined ? 'nothing' : JSON.stringify(value) ?? String(value);
}

// The union's own message would be a bare "Invalid input" for a wrong type (true, a list): say what is expected.
const numberOrText = (expected: string) =>
  z.union([z.number(), z.string()], { error: (issue) => `${expected}, got ${given(issue.input)}` });

const bytes = numberOrText(SIZE_EXPECTED).transform((value, ctx) => {
  const parsed = parseBytes(value);
  if (parsed === null) {
    ctx.addIssue({ code: 'custom', message: `${SIZE_EXPECTED}, got ${JSON.stringify(value)}` });
    return z.NEVER;
  }
  return parsed;
});

const duration = numberOrText(DURATION_EXPECTED).transform((value, ctx) => {
  const parsed = parseDuration(value);
  if (parsed === null) {
    ctx.addIssue({ code: 'custom', message: `${DURATION_EXPECTED}, got ${JSON.stringify(value)}` });
    return z.NEVER;
  }
  return parsed;
});

const listen = z.string().refine((value) => parseListen(value) !== null, {
  message: 'expected HOST:PORT such as 0.0.0.0:4317 or [::1]:4317',
});

const tenantName = z
  .string()
  .refine(isValidTenant, 'expected 1-63 characters of A-Z a-z 0-9 . _ - starting with a letter or digit, without ".."');

export const configSchema = z
  .object({
    dataDir: z.string().min(1).default('./data'),
    server: z
      .object({
        grpc: z
          .object({
            listen: listen.default('0.0.0.0:4317'),
            maxReceiveBytes: bytes.default(64 * 2 ** 20),
          })
          .strict()
          .prefault({}),
        admin: z.object({ listen: listen.default('0.0.0.0:8888') }).strict().prefault({}),
      })
      .strict()
      .prefault({}),
    admission: z
      .object({
        maxInFlightBytes: bytes.default(256 * 2 ** 20),
        tenantHeader: z.string().min(1).toLowerCase().default('x-scope-orgid'),
        defaultTenant: tenantName.default('default'),
        retryAfter: duration.default(1000),
      })
      .strict()
      .prefault({}),
    spool: z
      .object({
        dir: z.string().min(1).optional(),
        maxBytes: bytes.default(4 * 2 ** 30),
        segmentBytes: bytes.default(64 * 2 ** 20),
        durability: z.enum(['fsync', 'none']).default('fsync'),
      })
      .strict()
      .prefault({}),
    archiver: z
      .object({
        maxObjectBytes: bytes.default(64 * 2 ** 20),
        maxObjectAge: duration.default(60_000),
        codec: z.enum(CODECS).default('gzip'),
        level: z.number().int().min(0).max(11).optional(),
        uploadConcurrency: z.number().int().min(1).max(64).default(4),
        maxOpenObjects: z.number().int().min(1).max(1024).default(32),
        retryInitialBackoff: duration.default(500),
        retryMaxBackoff: duration.default(30_000),
      })
      .strict()
      .prefault({}),
    storage: z
      .object({
        type: z.enum(['filesystem']).default('filesystem'),
        filesystem: z.object({ dir: z.string().min(1).optional() }).strict().prefault({}),
      })
      .strict()
      .prefault({}),
    index: z
      .object({
        type: z.enum(['sqlite']).default('sqlite'),
        sqlite: z.object({ path: z.string().min(1).optional() }).strict().prefault({}),
      })
      .strict()
      .prefault({}),
    shutdown: z.object({ gracePeriod: duration.default(30_000) }).strict().prefault({}),
    log: z
      .object({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info') })
      .strict()
      .prefault({}),
  })
  .strict();

export type Config = z.output<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;
