// replay.allowedTargets: which HOST:PORT targets a pattern lets the Replay RPC reach, and the refusals' messages.
import { isTargetPattern, ReplayTargets } from '../../src/api/replay-targets.js';
import { PermissionDeniedError } from '../../src/errors.js';

test('an empty list allows nothing, and says so (and that the CLI is not limited)', () => {
  const none = new ReplayTargets([]);
  expect(none.empty).toBe(true);
  expect(none.allows('127.0.0.1:4317')).toBe(false);
  expect(() => none.check('127.0.0.1:4317')).toThrow(PermissionDeniedError);
  expect(() => none.check('127.0.0.1:4317')).toThrow('this server replays to no target: replay.allowedTargets is empty (the CLI `otlp-capture replay` is not limited by it)');
});

test.each([
  ['collector.staging.svc:4317', 'collector.staging.svc:4317', true],
  ['collector.staging.svc:4317', 'COLLECTOR.Staging.svc:4317', true],
  ['collector.staging.svc:4317', 'collector.staging.svc:4318', false],
  ['collector.staging.svc:4317', 'collector.staging.svc.evil.com:4317', false],
  ['collector.staging.svc:4317', 'xcollector.staging.svc:4317', false],
  // * is one label or part of one, never a dot
  ['*.staging.svc:4317', 'collector.staging.svc:4317', true],
  ['*.staging.svc:4317', 'a.b.staging.svc:4317', false],
  ['*.staging.svc:4317', 'staging.svc:4317', false],
  ['*.staging.svc:4317', 'evil.com:4317', false],
  ['collector-*:4317', 'collector-eu:4317', true],
  ['collector-*:4317', 'collector-eu.evil.com:4317', false],
  ['10.0.0.*:4317', '10.0.0.7:4317', true],
  ['10.0.0.*:4317', '10.0.1.7:4317', false],
  ['[::1]:4317', '[::1]:4317', true],
  ['[::1]:4317', '[::2]:4317', false],
  // a dot in a pattern is a dot, not "any character"
  ['a.b:4317', 'axb:4317', false],
] as const)('%s allows %s: %s', (pattern, target, allowed) => {
  expect(new ReplayTargets([pattern]).allows(target)).toBe(allowed);
});

test('a target outside the list is PermissionDenied, naming the target', () => {
  const targets = new ReplayTargets(['collector:4317']);
  expect(() => targets.check('metadata.internal:80')).toThrow('target "metadata.internal:80" is not in replay.allowedTargets');
  expect(() => targets.check('collector:4317')).not.toThrow();
});

test('pattern shape', () => {
  for (const good of ['a:1', '*:4317', 'a-b.c_d:65535', '[fe80::1]:4317']) expect(isTargetPattern(good)).toBe(true);
  for (const bad of ['a', ':4317', 'a:65536', 'a:*', 'http://a:1', 'a/b:1', 'a b:1', '-a:1']) expect(isTargetPattern(bad)).toBe(false);
});
