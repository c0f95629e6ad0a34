import type { Command } from 'commander';
import { loadConfig } from '../../config/load.js';
import { EXIT_OK, reportAndExit } from '../exit.js';

interface ServeOptions {
  config?: string;
  dataDir?: string;
  grpcListen?: string;
  httpListen?: string;
  adminListen?: string;
  apiListen?: string;
}

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('receive OTLP over gRPC and HTTP, acknowledge once durable, archive and index (embedded default: ./data)')
    .option('-c, --config <file>', 'YAML configuration file')
    .option('-d, --data-dir <dir>', 'data directory for spool, objects and index (default ./data)')
    .option('--grpc-listen <host:port>', 'OTLP/gRPC listen address (default 0.0.0.0:4317)')
    .option('--http-listen <host:port>', 'OTLP/HTTP listen address (default 0.0.0.0:4318)')
    .option('--admin-listen <host:port>', 'admin HTTP listen address for /healthz, /readyz, /metrics (default 0.0.0.0:8888)')
    .option('--api-listen <host:port>', 'API (CaptureService: list, get, find-trace, replay) listen address (default 127.0.0.1:4319)')
    .action(async (options: ServeOptions) => {
      // Until the server exists there is nothing to stop: a signal ends the process at once. Without a handler this
      // early, a SIGTERM during start-up would be ignored where serve is PID 1 (a container), and the orchestrator
      // would wait out its whole grace period before killing it.
      const exitBeforeStart = (): void => process.exit(EXIT_OK);
      process.once('SIGTERM', exitBeforeStart);
      process.once('SIGINT', exitBeforeStart);
      try {
        const config = loadConfig({
          ...(options.config ? { file: options.config } : {}),
          overrides: {
            dataDir: options.dataDir,
            'server.grpc.listen': options.grpcListen,
            'server.http.listen': options.httpListen,
            'server.admin.listen': options.adminListen,
            'server.api.listen': options.apiListen,
          },
        });
        // Loaded here, not at the top: the other commands (find-trace, get, …) start faster without the server's modules.
        const [{ CaptureServer }, { createLogger }] = await Promise.all([
          import('../../app/capture-server.js'),
          import('../../telemetry/logger.js'),
        ]);
        const logger = createLogger(config.log.level);
        const running = new CaptureServer(config, logger);
        let stopping = false;
        const stop = (signal: string): void => {
          if (stopping) {
            logger.warn({ signal }, 'second signal: exiting now; unarchived data stays spooled');
            process.exit(1);
          }
          stopping = true;
          logger.info({ signal }, 'signal received');
          running.stop().then(
            () => process.exit(EXIT_OK),
            (error: unknown) => reportAndExit(error),
          );
        };
        process.off('SIGTERM', exitBeforeStart);
        process.off('SIGINT', exitBeforeStart);
        process.on('SIGTERM', () => stop('SIGTERM'));
        process.on('SIGINT', () => stop('SIGINT'));
        await running.start();
      } catch (error) {
        reportAndExit(error);
      }
    });
}
