// Where the Replay RPC may send: replay.allowedTargets, a list of HOST:PORT patterns. Without this list a caller
// with the replay scope could make the server connect anywhere it can reach (internal services, the metadata
// endpoint of its cloud) and send them archived data; with it the operator names the endpoints once.
//
// `*` stands for one DNS label or part of one (like a certificate wildcard): `*.staging.svc` matches
// `collector.staging.svc`, not `a.b.staging.svc` nor `staging.svc`. Hosts compare case-insensitively; the port must be
// the same. Nothing is resolved: a pattern allows names as the caller writes them.
import { PermissionDeniedError } from '../errors.js';

const PATTERN_SHAPE = /^(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9*][A-Za-z0-9*._-]*):(\d{1,5})$/;

export function isTargetPattern(pattern: string): boolean {
  const match = PATTERN_SHAPE.exec(pattern);
  return match !== null && Number(match[1]) <= 65535;
}

export class ReplayTargets {
  private readonly patterns: readonly RegExp[];

  constructor(patterns: readonly string[]) {
    this.patterns = patterns.map(compile);
  }

  get empty(): boolean {
    return this.patterns.length === 0;
  }

  allows(target: string): boolean {
    return this.patterns.some((pattern) => pattern.test(target));
  }

  /** @throws PermissionDeniedError, before anything connects anywhere. */
  check(target: string): void {
    if (this.allows(target)) return;
    throw new PermissionDeniedError(
      this.empty
        ? 'this server replays to no target: replay.allowedTargets is empty (the CLI `otlp-capture replay` is not limited by it)'
        : `target ${JSON.stringify(target.slice(0, 100))} is not in replay.allowedTargets`,
    );
  }
}

function compile(pattern: string): RegExp {
  if (!isTargetPattern(pattern)) throw new RangeError(`not a replay target pattern: ${pattern}`);
  const separator = pattern.lastIndexOf(':');
  const host = pattern.slice(0, separator);
  const port = pattern.slice(separator + 1);
  const hostExpression = host
    .split('*')
    .map((literal) => literal.replace(/[.[\]]/g, (c) => `\\${c}`))
    .join('[A-Za-z0-9_-]+');
  return new RegExp(`^${hostExpression}:${Number(port)}$`, 'i');
}
