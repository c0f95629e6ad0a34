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
        process.on('SIGTERM', () => stop('SIGTERM'));
        process.on('SIGINT', () => stop('SIGINT'));
        await running.start();
      } catch (error) {
        reportAndExit(error);
      }
    });
}
