// Starting a backend that may be down at boot. An unreachable blob store must not stop `serve`: the spool keeps
// accepting (and acknowledging) while there is room, /readyz says what is wrong, and starting is retried with
// backoff. Configuration mistakes (ConfigError) still stop start-up at once.
import { Backoff, sleep } from '../archiver/backoff.js';
import { BackendUnavailableError } from '../errors.js';
import type { Logger } from '../telemetry/logger.js';

export class BackendStarter {
  private problem: string | null = null;
  private readonly cancelled = new AbortController();
  private readonly started: Promise<void>;
  private resolveStarted!: () => void;

  constructor(
    private readonly name: string,
    private readonly start: () => Promise<void>,
    private readonly backoff: { initialMs: number; maxMs: number },
    private readonly logger: Logger,
  ) {
    this.started = new Promise((resolve) => (this.resolveStarted = resolve));
  }

  /** Tries once; when the backend is unavailable, logs one line and keeps retrying in the background. */
  async begin(): Promise<void> {
    try {
      await this.start();
      this.resolveStarted();
    } catch (error) {
      if (!(error instanceof BackendUnavailableError)) throw error;
      this.problem = error.message;
      this.logger.error({ backend: this.name }, `${error.message}; accepting data into the spool and retrying`);
      void this.retry();
    }
  }

  /** Resolves once the backend has started (never, if it never does). */
  whenStarted(): Promise<void> {
    return this.started;
  }

  /** Null once started; otherwise why it is not. */
  notReadyReason(): string | null {
    return this.problem === null ? null : `${this.name} unavailable: ${this.problem}`;
  }

  cancel(): void {
    this.cancelled.abort();
  }

  private async retry(): Promise<void> {
    const backoff = new Backoff(this.backoff.initialMs, this.backoff.maxMs);
    while (!this.cancelled.signal.aborted) {
      await sleep(backoff.next(), this.cancelled.signal);
      if (this.cancelled.signal.aborted) return;
      try {
        await this.start();
        this.problem = null;
        this.logger.info({ backend: this.name }, `${this.name} is reachable again`);
        this.resolveStarted();
        return;
      } catch (error) {
        this.problem = error instanceof Error ? error.message : String(error);
      }
    }
  }
}
