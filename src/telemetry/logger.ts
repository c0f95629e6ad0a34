// Structured JSON logs (pino). The server logs to stdout; read-only CLI commands log to stderr so stdout stays data.
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(level: string, destination: 'stdout' | 'stderr' = 'stdout'): Logger {
  return pino(
    {
      level,
      base: { service: 'otlp-capture' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    pino.destination({ fd: destination === 'stdout' ? 1 : 2, sync: false }),
  );
}

export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
