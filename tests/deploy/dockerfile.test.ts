// deploy/Dockerfile read line by line (no Docker engine here): a multi-stage build whose final stage runs as a
// non-root user, carries only production dependencies, exposes the configured ports, checks /readyz, drains on
// SIGTERM; what it COPYs exists and is not cut from the context by .dockerignore; and what the service imports at
// run time is a production dependency, so `npm ci --omit=dev` is enough.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { isLoopback, listenPorts, loadConfigText, portOf, reachableListens } from './capture-config.js';
import { execForm, isIgnored, parseDockerfile, parseDockerignore, type Instruction, type Stage } from './dockerfile.js';
import { repoPath } from './repo-yaml.js';

const stages = parseDockerfile(readFileSync(repoPath('deploy/Dockerfile'), 'utf8'));
const final = stages[stages.length - 1]!;
const ignore = parseDockerignore(readFileSync(repoPath('.dockerignore'), 'utf8'));
const pkg = JSON.parse(readFileSync(repoPath('package.json'), 'utf8')) as { dependencies: Record<string, string>; devDependencies: Record<string, string> };

const all = (stage: Stage, keyword: string): Instruction[] => stage.instructions.filter((i) => i.keyword === keyword);
const one = (stage: Stage, keyword: string): Instruction => {
  const found = all(stage, keyword);
  expect(found).toHaveLength(1);
  return found[0]!;
};
const npmInstalls = (stage: Stage): string[] =>
  all(stage, 'RUN').flatMap((run) => run.args.split(/&&|;/).map((part) => part.trim())).filter((command) => /^npm (ci|install|i)\b/.test(command));

/** The configuration file the image ships, as the loader reads it. */
const imageConfigCopy = all(final, 'COPY').find((copy) => copy.args.endsWith(' /etc/otlp-capture/config.yaml'))!;
const imageConfig = loadConfigText(readFileSync(repoPath(imageConfigCopy.args.split(' ')[0]!), 'utf8'), {});
const ports = listenPorts(imageConfig);

function filesUnder(relative: string): string[] {
  const absolute = repoPath(relative);
  if (!statSync(absolute).isDirectory()) return [relative];
  return readdirSync(absolute).flatMap((entry) => filesUnder(path.posix.join(relative, entry)));
}

test('is multi-stage: Node 20 bookworm stages build, a bookworm-slim stage runs', () => {
  expect(stages.length).toBeGreaterThanOrEqual(2);
  for (const stage of stages.slice(0, -1)) expect(stage.from).toBe('node:20-bookworm');
  expect(final.from).toBe('node:20-bookworm-slim');
  expect(all(final, 'RUN').map((run) => run.args).join('\n')).not.toMatch(/apt-get install|npm (ci|install)/);
});

test('a build stage compiles the TypeScript with the build configuration, after installing without scripts', () => {
  const build = stages.find((stage) => all(stage, 'RUN').some((run) => run.args.includes('tsc -p tsconfig.build.json')));
  expect(build).toBeDefined();
  expect(all(final, 'COPY').some((copy) => copy.args.startsWith(`--from=${build!.name} `) && copy.args.includes('/dist'))).toBe(true);
});

test('every npm install skips scripts (`prepare` would run tsc), and native addons are then built from source', () => {
  const installs = stages.flatMap(npmInstalls);
  expect(installs.length).toBeGreaterThanOrEqual(2);
  for (const install of installs) expect(install).toContain('--ignore-scripts');
  expect(stages.flatMap((stage) => all(stage, 'RUN')).some((run) => /npm rebuild [^&]*\bbetter-sqlite3\b[^&]*--build-from-source/.test(run.args))).toBe(true);
});

/**
 * Production packages with native code, from the lockfile: those that compile an addon in an install script (a
 * binding.gyp; `--ignore-scripts` skips that, so the package has no binary until it is rebuilt), and those that load a
 * prebuilt addon from a per-platform optional package (napi-rs: `<name>-linux-x64-gnu` and the like).
 */
function nativeProductionPackages(): { compiled: string[]; prebuilt: string[] } {
  const lock = JSON.parse(readFileSync(repoPath('package-lock.json'), 'utf8')) as {
    packages: Record<string, { dev?: boolean; hasInstallScript?: boolean; optionalDependencies?: Record<string, string> }>;
  };
  const compiled: string[] = [];
  const prebuilt: string[] = [];
  for (const [location, entry] of Object.entries(lock.packages)) {
    if (!location.startsWith('node_modules/') || entry.dev) continue;
    const name = location.slice(location.lastIndexOf('node_modules/') + 'node_modules/'.length);
    if (entry.hasInstallScript && existsSync(repoPath(location, 'binding.gyp'))) compiled.push(name);
    if (Object.keys(entry.optionalDependencies ?? {}).some((dep) => /-linux-x64-gnu$/.test(dep))) prebuilt.push(name);
  }
  return { compiled: compiled.sort(), prebuilt: prebuilt.sort() };
}

test('every native production package is built (install scripts were skipped) and loaded once in the image’s Node and libc', () => {
  const native = nativeProductionPackages();
  // What this repository has today; a new native dependency shows up here and must be handled below.
  expect(native.compiled).toEqual(expect.arrayContaining(['better-sqlite3', 'zstd-napi']));
  expect(native.prebuilt).toEqual(expect.arrayContaining(['@node-rs/crc32', '@node-rs/xxhash', 'snappy']));
  const from = /^--from=(\S+) /.exec(all(final, 'COPY').find((copy) => copy.args.includes('node_modules'))!.args)![1];
  const deps = stages.find((stage) => stage.name === from)!;
  const commands = all(deps, 'RUN').flatMap((run) => run.args.split('&&').map((part) => part.trim()));
  const rebuild = commands.find((command) => command.startsWith('npm rebuild '));
  expect(rebuild).toBeDefined();
  expect(rebuild).toContain('--build-from-source');
  const rebuilt = rebuild!.split(' ').slice(2).filter((word) => !word.startsWith('-'));
  expect(native.compiled.filter((name) => !rebuilt.includes(name))).toEqual([]);
  // A smoke test after the rebuild: each addon is required (and used) in the stage whose node_modules ship, so a
  // missing binary or one for another libc fails the build, not the first Export compressed with zstd.
  const rebuildAt = commands.indexOf(rebuild!);
  const check = commands.slice(rebuildAt + 1).find((command) => command.startsWith('node -e '));
  expect(check).toBeDefined();
  const required = [...check!.matchAll(/require\('([^']+)'\)/g)].map((match) => match[1]);
  expect([...native.compiled, ...native.prebuilt].filter((name) => !required.includes(name))).toEqual([]);
  // Same Node major in the stage that builds the addons and in the one that runs them.
  expect(deps.from.split(':')[1]!.split('-')[0]).toBe(final.from.split(':')[1]!.split('-')[0]);
});

test('the final stage gets node_modules only from a stage that installed without devDependencies', () => {
  const copies = all(final, 'COPY').filter((copy) => copy.args.includes('node_modules'));
  expect(copies).toHaveLength(1);
  const from = /^--from=(\S+) /.exec(copies[0]!.args)?.[1];
  const source = stages.find((stage) => stage.name === from)!;
  const installs = npmInstalls(source);
  expect(installs).toHaveLength(1);
  expect(installs[0]).toContain('--omit=dev');
});

test('runs as a numeric non-root user (what Kubernetes runAsNonRoot can verify)', () => {
  const users = all(final, 'USER');
  expect(users.length).toBeGreaterThan(0);
  const [uid, gid] = users[users.length - 1]!.args.split(':');
  expect(Number(uid)).toBeGreaterThan(0);
  expect(Number(gid ?? uid)).toBeGreaterThan(0);
  // Nothing after USER switches back or writes as root.
  const userIndex = final.instructions.lastIndexOf(users[users.length - 1]!);
  expect(final.instructions.slice(userIndex + 1).filter((i) => i.keyword === 'RUN')).toEqual([]);
});

test('ships its default configuration and serves it, with data on a volume', () => {
  expect(execForm(one(final, 'ENTRYPOINT').args)).toEqual(['node', '/app/bin/otlp-capture.js']);
  expect(execForm(one(final, 'CMD').args)).toEqual(['serve', '--config', '/etc/otlp-capture/config.yaml']);
  expect(execForm(one(final, 'VOLUME').args)).toEqual([imageConfig.dataDir]);
});

test('EXPOSE covers exactly the ports the default configuration listens on beyond loopback: OTLP/gRPC, OTLP/HTTP, admin — not the read API', () => {
  const exposed = all(final, 'EXPOSE').flatMap((expose) => expose.args.split(' ').map((port) => Number(port.replace('/tcp', ''))));
  expect(exposed.sort()).toEqual(reachableListens(imageConfig).map(portOf).sort());
  expect(exposed.sort()).toEqual([4317, 4318, 8888]);
  // The image has no tokens: its API listener stays inside the container (serve would refuse it elsewhere).
  expect(isLoopback(imageConfig.server.api.listen)).toBe(true);
  expect(ports.api).toBe(4319);
});

test('HEALTHCHECK asks /readyz on the admin port with Node (no curl in the slim image); STOPSIGNAL is SIGTERM', () => {
  const healthcheck = one(final, 'HEALTHCHECK');
  const command = execForm(healthcheck.args)!;
  expect(command.slice(0, 2)).toEqual(['node', '-e']);
  expect(command[2]).toContain(`http://127.0.0.1:${ports.admin}/readyz`);
  expect(healthcheck.args).toMatch(/--timeout=\d+s/);
  expect(one(final, 'STOPSIGNAL').args).toBe('SIGTERM');
});

test('what the build COPYs from the context exists and is not excluded by .dockerignore', () => {
  const sources = stages
    .flatMap((stage) => all(stage, 'COPY'))
    .filter((copy) => !copy.args.startsWith('--from='))
    .flatMap((copy) => copy.args.split(' ').slice(0, -1));
  expect(sources.length).toBeGreaterThan(5);
  for (const source of sources) {
    const files = filesUnder(source);
    expect(files.length).toBeGreaterThan(0);
    expect(files.filter((file) => isIgnored(file, ignore))).toEqual([]);
  }
});

test('.dockerignore keeps local state out of the context', () => {
  for (const file of ['node_modules/yaml/package.json', 'dist/cli/main.js', 'data/index.sqlite', '.git/HEAD', 'tests/config/load.test.ts', 'deploy/docker-compose.yaml']) {
    expect({ file, ignored: isIgnored(file, ignore) }).toEqual({ file, ignored: true });
  }
});

test('everything src/ imports at run time is a production dependency or a Node built-in', () => {
  const imports = new Set<string>();
  for (const file of filesUnder('src').filter((f) => f.endsWith('.ts'))) {
    const text = readFileSync(repoPath(file), 'utf8');
    for (const match of text.matchAll(/(?:^|\n)\s*(?:import|export)(?!\s+type\b)[^'"]*?from\s+'([^'.][^']*)'|import\('([^'.][^']*)'\)/g)) {
      imports.add((match[1] ?? match[2]) as string);
    }
  }
  const packageName = (specifier: string): string => specifier.split('/').slice(0, specifier.startsWith('@') ? 2 : 1).join('/');
  const external = [...imports].filter((specifier) => !specifier.startsWith('node:')).map(packageName);
  expect(external.length).toBeGreaterThan(5);
  expect([...new Set(external)].filter((name) => !(name in pkg.dependencies))).toEqual([]);
});
