// Whether the archiver stores a request's body as the client compressed it (a gzip member, a zstd frame) instead of
// compressing the request itself. Keeping saves the whole archive-side compression, the largest cost per byte of the
// archiver; the stored bytes are then the client's. So a client's block is kept only when it stores about as well as
// the archiver's own would: within KEEP_SLACK of the ratio the archiver's own blocks of that signal have reached
// lately. Until the archiver has such a ratio, and for one request in SAMPLE_EVERY after that, it compresses anyway,
// to learn and refresh it. A client at a fast level (zstd -5, gzip 1 under a zstd 9 archive) thus gets recompressed.
import type { Codec, Signal, WireBody } from '../model.js';
import { clientBlock, type ClientBlock } from '../compression/wire-block.js';

/** A kept block may store this much more than the archiver's recent blocks of the same signal. */
export const KEEP_SLACK = 1.25;
/** One keepable request in this many is compressed by the archiver anyway, to keep its own ratio current. */
export const SAMPLE_EVERY = 32;
/** Weight of the newest block in the moving ratio. */
const SMOOTHING = 0.1;

export class ClientBlockPolicy {
  private readonly ratios = new Map<Signal, number>();
  private readonly untilSample = new Map<Signal, number>();

  private readonly enabled: boolean;

  /** `keep` false (archiver.keepClientBlocks) or an archive codec of `none`: every request is compressed here. */
  constructor(keep: boolean, archiveCodec: Codec) {
    this.enabled = keep && archiveCodec !== 'none';
  }

  /** The client's block to store for this request, or null to compress it here. */
  choose(signal: Signal, wire: WireBody | undefined, rawLength: number, rawCrc32: number): ClientBlock | null {
    if (!this.enabled || wire === undefined || rawLength === 0) return null;
    const ratio = this.ratios.get(signal);
    if (ratio === undefined) return null;
    const left = this.untilSample.get(signal) ?? SAMPLE_EVERY;
    if (left <= 1) {
      this.untilSample.set(signal, SAMPLE_EVERY);
      return null;
    }
    this.untilSample.set(signal, left - 1);
    if (wire.bytes.length > rawLength * ratio * KEEP_SLACK) return null;
    return clientBlock(wire, rawLength, rawCrc32);
  }

  /** What one of the archiver's own blocks came to. */
  observe(signal: Signal, storedLength: number, rawLength: number): void {
    if (rawLength === 0) return;
    const ratio = storedLength / rawLength;
    const before = this.ratios.get(signal);
    this.ratios.set(signal, before === undefined ? ratio : before + (ratio - before) * SMOOTHING);
  }
}
