// The lifecycle every BlobWriter shares, whatever the backend: writes run one after another even when a caller does
// not await each one; complete() waits for them and is the point of no return; abort() before that drops
// everything, after it waits and leaves the outcome alone; the first failure is what every later call reports.
// Adapters supply only how bytes go out, how the object becomes visible, and how a stopped write is cleaned up.
import type { BlobWriter } from './blob-store.js';
import { InvalidArgumentError } from '../errors.js';

export type WriterState = 'open' | 'completing' | 'completed' | 'failed' | 'aborted';

export abstract class SequentialBlobWriter implements BlobWriter {
  protected state: WriterState = 'open';
  /** The first failure, typed for callers (it names the key and the store). */
  protected failure: Error | undefined;
  protected size = 0;
  private chain: Promise<void> = Promise.resolve();
  private completion: Promise<{ size: number }> | undefined;

  protected constructor(protected readonly key: string) {}

  /** Sends one chunk; on failure sets `failure` (and may set `state` to 'failed') and throws it. */
  protected abstract writeNow(chunk: Buffer): Promise<void>;
  /** Makes the object durable and visible after every write has finished; throws the error callers should see. */
  protected abstract finish(): Promise<void>;
  /** Cleans up after an abort or a failure: nothing may stay visible or be left behind. Never throws. */
  protected abstract discard(): Promise<void>;
  /** Called on abort before pending writes are awaited, so one waiting for room can return at once. */
  protected stopSending(): void {}

  write(chunk: Buffer): Promise<void> {
    if (this.state !== 'open') return Promise.reject(this.stateError('write to'));
    const step = this.chain.then(() => this.writeNow(chunk));
    this.chain = step.catch(() => undefined);
    return step;
  }

  complete(): Promise<{ size: number }> {
    if (this.state !== 'open') return Promise.reject(this.stateError('complete'));
    this.state = 'completing';
    this.completion = this.completeAfterWrites();
    return this.completion;
  }

  async abort(): Promise<void> {
    if (this.state === 'completed' || this.state === 'aborted') return;
    if (this.state === 'completing') {
      // complete() is past the point of no return; wait for it and leave its outcome alone.
      await this.completion?.catch(() => undefined);
      return;
    }
    this.state = 'aborted';
    this.stopSending();
    await this.chain;
    await this.discard();
  }

  private async completeAfterWrites(): Promise<{ size: number }> {
    await this.chain;
    if (!this.failure) {
      try {
        await this.finish();
      } catch (error) {
        this.failure ??= error as Error;
      }
    }
    if (this.failure) {
      this.state = 'failed';
      await this.discard();
      throw this.failure;
    }
    this.state = 'completed';
    return { size: this.size };
  }

  protected stateError(action: string): Error {
    if (this.failure) return this.failure;
    return new InvalidArgumentError(`cannot ${action} object ${this.key}: the write is ${this.state}`);
  }
}
