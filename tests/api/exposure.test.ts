// The start-up rule for the API listener: without tokens it may only listen on loopback, unless the operator opts in.
import { checkApiExposure } from '../../src/api/exposure.js';
import { ConfigError } from '../../src/errors.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { captureLogs } from '../notify/log-capture.js';

const quiet = silentLogger();

test('no tokens and a non-loopback address: a ConfigError saying what to do', () => {
  let error: unknown;
  try {
    checkApiExposure({ listen: '0.0.0.0:4319', allowUnauthenticated: false, authEnabled: false }, quiet);
  } catch (caught) {
    error = caught;
  }
  expect(error).toBeInstanceOf(ConfigError);
  expect((error as Error).message).toMatch(/^server\.api\.listen is 0\.0\.0\.0:4319, reachable from the network, but no bearer tokens are configured/);
  expect((error as Error).message).toMatch(/OTLP_CAPTURE_READ_TOKEN/);
  expect((error as Error).message).toMatch(/server\.api\.allowUnauthenticated: true/);
});

test('loopback, tokens, or the explicit opt-in: allowed', () => {
  expect(() => checkApiExposure({ listen: '127.0.0.1:4319', allowUnauthenticated: false, authEnabled: false }, quiet)).not.toThrow();
  expect(() => checkApiExposure({ listen: '[::1]:4319', allowUnauthenticated: false, authEnabled: false }, quiet)).not.toThrow();
  expect(() => checkApiExposure({ listen: '0.0.0.0:4319', allowUnauthenticated: false, authEnabled: true }, quiet)).not.toThrow();
  expect(() => checkApiExposure({ listen: '0.0.0.0:4319', allowUnauthenticated: true, authEnabled: false }, quiet)).not.toThrow();
});

test('the explicit opt-in is logged as a warning at start, saying what it means', () => {
  const logs = captureLogs();
  checkApiExposure({ listen: '0.0.0.0:4319', allowUnauthenticated: true, authEnabled: false }, logs.logger);
  const [line] = logs.lines();
  expect(line).toMatchObject({ level: 40, apiListen: '0.0.0.0:4319' });
  expect(String(line!.msg)).toMatch(/reachable from the network without authentication \(server\.api\.allowUnauthenticated: true\)/);
  // Nothing is logged when there is nothing to warn about.
  const quietLogs = captureLogs();
  checkApiExposure({ listen: '127.0.0.1:4319', allowUnauthenticated: true, authEnabled: false }, quietLogs.logger);
  expect(quietLogs.lines()).toEqual([]);
});
