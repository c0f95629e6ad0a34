// Keys of objects re-encoded by the compress action: `<original key minus .otlpc>.<codec>-<level>.otlpc`, beside
// the original. The level is not recorded inside an object (blocks and manifest only name the codec), so the key
// says it: a compress policy skips an object whose key already records its codec at the same or a higher level.
// Keys are never reused: a policy only ever moves an object to a stronger codec/level, and an object's key
// changes each time, which matters for ClickHouse, where a replaced key is retired for good.
import { OBJECT_KEY_SUFFIX } from '../archiver/object-key.js';
import type { CompressCodec } from './retention-config.js';

const MARKER = /\.(gzip|brotli|zstd)-(\d{1,2})\.otlpc$/;

export interface CompressionMark {
  codec: CompressCodec;
  level: number;
}

/** What a compress action recorded in this key, or null for a key the archiver made. */
export function compressionMark(key: string): CompressionMark | null {
  const match = MARKER.exec(key);
  return match ? { codec: match[1] as CompressCodec, level: Number(match[2]) } : null;
}

/** The key the object at `key` gets once re-encoded with codec and level. */
export function compressedKey(key: string, mark: CompressionMark): string {
  const base = key.replace(MARKER, '').replace(new RegExp(`${OBJECT_KEY_SUFFIX.replace('.', '\\.')}$`), '');
  return `${base}.${mark.codec}-${mark.level}${OBJECT_KEY_SUFFIX}`;
}
