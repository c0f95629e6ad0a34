// What a bearer token may be used for. Ingest (OTLP Export) and the read side are separate powers: the token every
// Collector holds to write must not also read and replay every tenant's data. `metrics` lets a scraper read the admin
// listener's /metrics from the network (its labels name tenants and their traffic) and nothing else.
export const SCOPES = ['ingest', 'read', 'replay', 'metrics'] as const;
export type Scope = (typeof SCOPES)[number];

/** The scopes of the data path (OTLP Export and the read API), as against the admin listener's `metrics`. */
export const DATA_SCOPES: readonly Scope[] = SCOPES.filter((scope) => scope !== 'metrics');

/** What a caller asks to do; each action needs a set of scopes. */
export type Action = 'ingest' | 'read' | 'replay';

/** Replay reads what it sends, so it needs `read` as well as `replay`. */
export const REQUIRED_SCOPES: Readonly<Record<Action, readonly Scope[]>> = {
  ingest: ['ingest'],
  read: ['read'],
  replay: ['read', 'replay'],
};

/** A token without `scopes:` may ingest, and nothing else. */
export const DEFAULT_SCOPES: readonly Scope[] = ['ingest'];

/** `this token lacks the "read" scope`, or `… the "read" and "replay" scopes`. */
export function missingScopesMessage(missing: readonly Scope[]): string {
  const quoted = missing.map((scope) => `"${scope}"`);
  const list = quoted.length === 1 ? quoted[0] : `${quoted.slice(0, -1).join(', ')} and ${quoted.at(-1)}`;
  return `this token lacks the ${list} scope${missing.length === 1 ? '' : 's'}`;
}
