// Which ClickHouse the index talks to, read once at start (`SELECT version()`), and what that server offers. Two
// dialects: `legacy` for what Debian ships (18.16) up to 23.2, `current` from 23.3, where lightweight DELETE is
// generally available. The schema and every read are valid on both; the current dialect adds column types and skip
// indexes that only make things faster, and deletes rows instead of leaving them behind tombstones.
import { InvalidArgumentError } from '../errors.js';

export interface Dialect {
  name: 'legacy' | 'current';
  /** What the server reported, e.g. "18.16.1" or "26.7.2.1". */
  version: string;
  /** LowCardinality(String) for tenant, signal, codec and services. */
  lowCardinality: boolean;
  /** Data-skipping indexes (minmax on data times, bloom filters on services, fingerprints and object keys). */
  skipIndexes: boolean;
  /** `DELETE FROM … WHERE …` that is synchronous and cheap (marks rows), so retention removes rows at once. */
  lightweightDelete: boolean;
}

export function dialectFor(version: string): Dialect {
  const match = /^(\d+)\.(\d+)/.exec(version.trim());
  if (!match) throw new InvalidArgumentError(`cannot read a ClickHouse version from ${JSON.stringify(version.slice(0, 80))}`);
  const major = Number(match[1]);
  const minor = Number(match[2]);
  const current = major > 23 || (major === 23 && minor >= 3);
  return { name: current ? 'current' : 'legacy', version: version.trim(), lowCardinality: current, skipIndexes: current, lightweightDelete: current };
}
