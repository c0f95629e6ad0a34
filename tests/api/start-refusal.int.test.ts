// `serve` refuses to start with the API listener on a non-loopback address and no tokens: one clear line, exit 2,
// and nothing opened (no data directory made, no port bound). With the same address on loopback it starts.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runCli, startServer } from '../helpers/server-process.js';

let dir: string;
beforeEach(() => (dir = mkdtempSync(path.join(os.tmpdir(), 'otlp-capture-api-exposure-'))));
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const PORTS = ['--grpc-listen', '127.0.0.1:0', '--http-listen', '127.0.0.1:0', '--admin-listen', '127.0.0.1:0'];

test.each([
  ['the flag', ['--api-listen', '0.0.0.0:4319'], {}],
  ['the environment', [], { OTLP_CAPTURE_API_LISTEN: '[::]:4319' }],
] as const)('a non-loopback API address from %s without tokens: refused at start with the reason and the ways out', async (_from, args, env) => {
  const data = path.join(dir, 'data');
  const result = await runCli(['serve', '--data-dir', data, ...PORTS, ...args], { env: { ...env, OTLP_CAPTURE_LOG_LEVEL: 'info' } });
  expect(result.code).toBe(2);
  const listen = args.length > 0 ? '0.0.0.0:4319' : '[::]:4319';
  expect(result.stderr).toBe(
    `otlp-capture: server.api.listen is ${listen}, reachable from the network, but no bearer tokens are configured: anyone who ` +
      "can connect could read and replay every tenant's data. Configure a token with the read scope (OTLP_CAPTURE_READ_TOKEN, " +
      'or auth.bearerTokens with scopes: [read, replay]), listen on loopback (--api-listen 127.0.0.1:4319), or set ' +
      'server.api.allowUnauthenticated: true to accept this\n',
  );
  // Refused before anything was opened.
  expect(existsSync(data)).toBe(false);
  expect(result.stdout.toString()).not.toMatch(/otlp-capture is serving/);
});

test('allowUnauthenticated: false written out changes nothing; on loopback the same configuration starts', async () => {
  const config = path.join(dir, 'config.yaml');
  writeFileSync(config, 'server:\n  api:\n    listen: 0.0.0.0:4319\n    allowUnauthenticated: false\n');
  const refused = await runCli(['serve', '--config', config, '--data-dir', path.join(dir, 'data'), ...PORTS]);
  expect(refused.code).toBe(2);
  expect(refused.stderr).toMatch(/^otlp-capture: server\.api\.listen is 0\.0\.0\.0:4319, reachable from the network/);
  // startServer passes --api-listen 127.0.0.1:0, which beats the file.
  const server = await startServer(['--config', config, '--data-dir', path.join(dir, 'data')]);
  try {
    expect(server.apiPort).toBeGreaterThan(0);
    expect(server.output()).not.toMatch(/allowUnauthenticated/);
  } finally {
    await server.stop();
  }
});
