// Who may read /metrics: loopback without a token, the network only with a token that has the metrics scope, anyone
// when the operator opens it; a token that is presented is always checked.
import { BearerAuth } from '../../src/admission/auth.js';
import { MetricsGate, metricsReachNote } from '../../src/telemetry/metrics-access.js';

const withTokens = new BearerAuth([
  { token: 'scraper-token', scopes: ['metrics'] },
  { token: 'collector-token', scopes: ['ingest'] },
  { token: 'reader-token', scopes: ['read', 'replay'] },
]);
const withoutTokens = new BearerAuth([]);
const NETWORK = '10.1.2.3';

describe('tokens configured', () => {
  const gate = new MetricsGate(withTokens, false);

  test.each(['127.0.0.1', '::1', '::ffff:127.0.0.1'])('loopback %s needs no token', (peer) => {
    expect(gate.check(peer, undefined)).toEqual({ allowed: true });
  });

  test('the network needs a token: 401 without one, naming the scope', () => {
    expect(gate.check(NETWORK, undefined)).toEqual({ allowed: false, status: 401, message: expect.stringContaining('"metrics" scope') });
    expect(gate.check(`::ffff:${NETWORK}`, '')).toMatchObject({ allowed: false, status: 401 });
    expect(gate.check(undefined, undefined)).toMatchObject({ allowed: false, status: 401 });
  });

  test('a token with the metrics scope is let in from anywhere', () => {
    expect(gate.check(NETWORK, 'Bearer scraper-token')).toEqual({ allowed: true });
    expect(gate.check('127.0.0.1', 'bearer scraper-token')).toEqual({ allowed: true });
  });

  test('a token without the scope is 403, a wrong one 401 — from loopback too', () => {
    for (const peer of [NETWORK, '127.0.0.1']) {
      expect(gate.check(peer, 'Bearer collector-token')).toEqual({ allowed: false, status: 403, message: 'this token lacks the "metrics" scope' });
      expect(gate.check(peer, 'Bearer reader-token')).toMatchObject({ allowed: false, status: 403 });
      expect(gate.check(peer, 'Bearer not-a-token')).toEqual({ allowed: false, status: 401, message: 'invalid bearer token' });
      expect(gate.check(peer, 'Basic c2NyYXBlcg==')).toMatchObject({ allowed: false, status: 401 });
    }
  });

  test('allowUnauthenticatedMetrics lets the network in without a token, but still checks one that is presented', () => {
    const open = new MetricsGate(withTokens, true);
    expect(open.check(NETWORK, undefined)).toEqual({ allowed: true });
    expect(open.check(NETWORK, 'Bearer not-a-token')).toMatchObject({ allowed: false, status: 401 });
  });
});

describe('no tokens configured', () => {
  test('loopback only: the network gets 403 saying how to open it', () => {
    const gate = new MetricsGate(withoutTokens, false);
    expect(gate.check('127.0.0.1', undefined)).toEqual({ allowed: true });
    // A header cannot be checked with no tokens configured, so it changes nothing.
    expect(gate.check('127.0.0.1', 'Bearer anything')).toEqual({ allowed: true });
    const refused = gate.check(NETWORK, 'Bearer anything');
    expect(refused).toMatchObject({ allowed: false, status: 403 });
    expect(refused.allowed === false && refused.message).toMatch(/OTLP_CAPTURE_METRICS_TOKEN.*allowUnauthenticatedMetrics/);
  });

  test('allowUnauthenticatedMetrics: everyone', () => {
    expect(new MetricsGate(withoutTokens, true).check(NETWORK, undefined)).toEqual({ allowed: true });
  });
});

test('at start, a note only when a scraper on another host could not get in', () => {
  expect(metricsReachNote('0.0.0.0', withoutTokens, false)).toMatch(/loopback callers only.*OTLP_CAPTURE_METRICS_TOKEN/);
  // Tokens for the data path only: still no way in for a scraper.
  expect(metricsReachNote('0.0.0.0', new BearerAuth([{ token: 'collector-token', scopes: ['ingest'] }]), false)).not.toBeNull();
  expect(metricsReachNote('0.0.0.0', withTokens, false)).toBeNull();
  expect(metricsReachNote('127.0.0.1', withoutTokens, false)).toBeNull();
  expect(metricsReachNote('0.0.0.0', withoutTokens, true)).toBeNull();
});
