// How the CLI treats its standard streams as a Unix tool: a reader that closes early (`list | head -1`) ends the
// command quietly, and a Ctrl-C leaves whole lines behind.
import { EXIT_OK } from './exit.js';

const isBrokenPipe = (error: unknown): boolean => (error as NodeJS.ErrnoException | null)?.code === 'EPIPE';

/**
 * stdout's reader is gone: nothing more can be delivered, so stop at once (no stack trace, no further reading of the
 * archive). Exit 0, as the reader chose to stop: `set -o pipefail` scripts running `otlp-capture list | head -1` pass.
 */
export function stdoutClosed(): never {
  process.exit(EXIT_OK);
}

/** Installed once at start: without it a closed pipe is an unhandled 'error' event (a stack trace, exit 1). */
export function handleClosedPipes(): void {
  process.stdout.on('error', (error) => {
    if (isBrokenPipe(error)) stdoutClosed();
    process.stderr.write(`otlp-capture: cannot write to stdout: ${error.message}\n`);
    process.exit(1);
  });
  // Nobody reads our messages any more; the data on stdout may still matter, so carry on.
  process.stderr.on('error', () => undefined);
}

/** Writes to stdout and waits until it is handed to the OS; a closed reader ends the process as above. */
export function writeStdout(bytes: Buffer | string): Promise<void> {
  return new Promise<void>((resolve, reject) =>
    process.stdout.write(bytes, (error) => {
      if (!error) resolve();
      else if (isBrokenPipe(error)) stdoutClosed();
      else reject(error);
    }),
  );
}

/**
 * Ctrl-C (or SIGTERM) noted instead of killing the process mid-write: a command checks `interrupted` between
 * batches, so stdout ends with a whole line, then calls `exitIfInterrupted()`.
 */
export class Interruption {
  private signal: NodeJS.Signals | null = null;
  private readonly onSignal = (signal: NodeJS.Signals): void => {
    this.signal = signal;
    // A second Ctrl-C kills at once (default disposition), in case the command is stuck waiting on a backend.
    this.dispose();
  };

  constructor(private readonly signals: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM']) {
    for (const signal of signals) process.once(signal, this.onSignal);
  }

  get interrupted(): boolean {
    return this.signal !== null;
  }

  dispose(): void {
    for (const signal of this.signals) process.off(signal, this.onSignal);
  }

  /**
   * Ends the process by the signal it received (after the caller cleaned up): a shell or `xargs` then sees a
   * program killed by Ctrl-C (status 130) and stops too, as it would without the handler.
   */
  exitIfInterrupted(): void {
    if (this.signal === null) return;
    this.dispose();
    process.kill(process.pid, this.signal);
    // Not reached when the signal's default action ends the process; a fallback with the same status if it did not.
    setTimeout(() => process.exit(128 + (this.signal === 'SIGINT' ? 2 : 15)), 1000);
  }
}
