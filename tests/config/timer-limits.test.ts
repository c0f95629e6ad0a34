// Durations that a timer waits for are refused past setTimeout's longest delay (2^31-1 ms, ~24.8 days): Node's
// timers, ours and grpc-js' (the API listener's keepalive and connection age), fire after 1 ms instead, which would
// turn a 30-day keepalive into a ping every millisecond. Windows and thresholds that no timer waits for may be longer.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { retentionSchema } from '../../src/retention/retention-config.js';
import { configFailure, loadYamlConfig } from '../helpers/config-file.js';

let dir: string;
beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'timer-limits-'))));
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const load = (yaml: string) => loadYamlConfig(dir, yaml);
const failure = (yaml: string): string => configFailure(dir, yaml);

test.each([
  ['server:\n  grpc:\n    keepaliveTime: 30d\n', 'keepaliveTime'],
  ['server:\n  grpc:\n    maxConnectionAge: 25d\n', 'maxConnectionAge'],
  ['server:\n  grpc:\n    maxConnectionIdle: 600h\n', 'maxConnectionIdle'],
  ['admission:\n  maxWait: 30d\n', 'maxWait'],
  ['shutdown:\n  gracePeriod: 40d\n', 'gracePeriod'],
  ['notify:\n  slack:\n    digestInterval: 30d\n', 'digestInterval'],
])('%s is refused with the limit named', (yaml, key) => {
  const message = failure(yaml);
  expect(message).toContain(key);
  expect(message).toContain('must be at most 24d');
});

test('24 days is accepted where a timer waits; longer windows and thresholds stay accepted', () => {
  const config = load('server:\n  grpc:\n    maxConnectionAge: 24d\nnotify:\n  alerts:\n    indexLag: 60d\ndedup:\n  window: 90d\narchiver:\n  maxLag: 30d\n');
  expect(config.server.grpc.maxConnectionAge).toBe(24 * 86_400_000);
  expect(config.notify.alerts.indexLag).toBe(60 * 86_400_000);
  expect(config.dedup.window).toBe(90 * 86_400_000);
  expect(config.archiver.maxLag).toBe(30 * 86_400_000);
});

test("retention's schedule interval and lease ttl are timers; a policy's age is not", () => {
  const parse = (interval: string) => retentionSchema.safeParse({ interval, policies: [{ name: 'old', match: { olderThan: '400d' }, action: { type: 'delete' } }] });
  const refused = parse('30d');
  expect(refused.success).toBe(false);
  expect(JSON.stringify(refused.error?.issues)).toContain('must be at most 24d');
  expect(parse('7d').success).toBe(true);
  expect(retentionSchema.safeParse({ leaseTtl: '30d' }).success).toBe(false);
});
