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
    // Synchronous: the service logs little, and a log line must not be lost when the process exits right after it.
    pino.destination({ fd: destination === 'stdout' ? 1 : 2, sync: true }),
  );
}

export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
