// A cap on expensive calls running at once on the API listener (OTLP JSON conversion, trace assembly, replays):
// their memory and CPU are outside the ingest budget, so without a cap a few callers could starve ingest. Over the
// cap a call is refused at once — UNAVAILABLE with RetryInfo — rather than queued without bound.
import { OverloadedError } from '../errors.js';

export class WorkLimiter {
  private running = 0;

  constructor(
    /** What is limited, for the message: "FindTrace and GetRequest-as-JSON calls". */
    private readonly what: string,
    private readonly limit: number,
    /** The configuration key that sets the limit. */
    private readonly configKey: string,
    private readonly retryAfterMs: number,
  ) {}

  get active(): number {
    return this.running;
  }

  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.running >= this.limit) {
      throw new OverloadedError(
        `too many ${this.what} at once: at most ${this.limit} run at a time on this listener (${this.configKey}); retry later`,
        this.retryAfterMs,
        'api_busy',
      );
    }
    this.running += 1;
    try {
      return await work();
    } finally {
      this.running -= 1;
    }
  }
}
