// deploy/kubernetes/ (standalone StatefulSet) and deploy/kubernetes/sidecar/ (Collector + otlp-capture in one Pod),
// checked statically: kustomizations list files that exist; every container has probes, resources and a
// restricted-profile security context; otlp-capture's ConfigMap loads with the container's environment and agrees
// with the manifest (ports, probes, memory, volume sizes, termination grace); Services and PodDisruptionBudgets
// select real Pods; a sidecar Collector reaches otlp-capture on loopback; Secrets referenced are documented.
import { existsSync, readFileSync, statSync } from 'node:fs';
import type { ResolvedConfig } from '../../src/config/load.js';
import { hasReadToken, isLoopback, LOADER_ENV, listenPorts, loadConfigText, memoryNeeded, parseQuantity, portOf, reachableListens } from './capture-config.js';
import { captureExporters, collectorProblems, endpointPort, listeningPorts } from './collector-checks.js';
import { expandCollectorEnv } from './env-refs.js';
import {
  configArg,
  configMapFile,
  containerEnv,
  containerPorts,
  isCapture,
  isCollector,
  KUBE_DIR,
  kustomizations,
  mountFor,
  mountsOf,
  podTemplates,
  resolvePort,
  selects,
  volumeNamed,
  type Container,
  type PodTemplate,
} from './kube-model.js';
import { at, parseYamlDocuments, repoPath, tree, yamlFilesUnder, type Tree } from './repo-yaml.js';

const KUSTOMIZATIONS = kustomizations();
const PODS = KUSTOMIZATIONS.flatMap(podTemplates);
const CONTAINERS = PODS.flatMap((pod) => pod.containers.map((container) => ({ pod, container })));
const label = (pod: PodTemplate, container: Container): string => `${pod.workload.file} ${pod.workload.kind}/${pod.workload.name} ${container.name}`;

function captureConfigOf(pod: PodTemplate, container: Container): ResolvedConfig {
  return loadConfigText(configMapFile(pod, container, configArg(container)!), containerEnv(container));
}

function collectorConfigOf(pod: PodTemplate, container: Container): { config: Tree; missing: string[] } {
  const file = configArg(container)!;
  const parsed = parseYamlDocuments(configMapFile(pod, container, file), `${pod.workload.file} ${file}`)[0];
  const { value, missing } = expandCollectorEnv(parsed, containerEnv(container));
  return { config: tree(value, file), missing };
}

test('the standalone and the sidecar kustomizations are there, with an otlp-capture container each', () => {
  expect(KUSTOMIZATIONS.map((k) => k.dir)).toEqual([KUBE_DIR, `${KUBE_DIR}/sidecar`]);
  expect(PODS.map((pod) => `${pod.workload.kind}/${pod.workload.name}`)).toEqual(['StatefulSet/otlp-capture', 'Deployment/otel-collector']);
  for (const pod of PODS) expect(pod.containers.filter(isCapture)).toHaveLength(1);
});

describe.each(KUSTOMIZATIONS.map((k) => [k.dir, k] as const))('kustomization %s', (_dir, kustomization) => {
  test('lists resources that exist, and every manifest file of its directory', () => {
    for (const resource of kustomization.resources) expect(existsSync(repoPath(kustomization.dir, resource))).toBe(true);
    const files = yamlFilesUnder(kustomization.dir)
      .filter((file) => file.split('/').length === kustomization.dir.split('/').length + 1 && !file.endsWith('/kustomization.yaml'))
      .map((file) => file.slice(kustomization.dir.length + 1));
    expect([...kustomization.resources].sort()).toEqual(files.sort());
  });

  test('every manifest has apiVersion, kind and a name; names are unique per kind', () => {
    for (const manifest of kustomization.manifests) {
      expect(typeof manifest.doc.apiVersion).toBe('string');
      expect(manifest.name).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
    }
    const keys = kustomization.manifests.map((m) => `${m.kind}/${m.name}`);
    expect(new Set(keys).size).toBe(keys.length);
  });

  test('its images entry names an image a container uses, with a tag', () => {
    const images = (Array.isArray(kustomization.doc.images) ? kustomization.doc.images : []) as Tree[];
    expect(images.length).toBeGreaterThan(0);
    for (const image of images) {
      expect(typeof image.newTag).toBe('string');
      expect(PODS.filter((pod) => pod.kustomization === kustomization).flatMap((pod) => pod.containers).some((c) => c.spec.image === image.name)).toBe(true);
    }
  });

  test('Services and PodDisruptionBudgets select a Pod template; Service target ports are container ports', () => {
    const pods = PODS.filter((pod) => pod.kustomization === kustomization);
    for (const manifest of kustomization.manifests.filter((m) => m.kind === 'Service' || m.kind === 'PodDisruptionBudget')) {
      const selector = at(manifest.doc, 'spec.selector');
      const selected = pods.filter((pod) => selects(selector, pod));
      expect({ manifest: manifest.name, selected: selected.length }).toEqual({ manifest: manifest.name, selected: 1 });
      if (manifest.kind !== 'Service') continue;
      for (const port of at(manifest.doc, 'spec.ports') as Tree[]) {
        const resolved = selected[0]!.containers.map((c) => resolvePort(c, port.targetPort ?? port.port)).find((p) => p !== undefined);
        expect({ service: manifest.name, port: port.name, resolved: resolved !== undefined }).toEqual({ service: manifest.name, port: port.name, resolved: true });
      }
    }
  });
});

describe.each(CONTAINERS.map(({ pod, container }) => [label(pod, container), pod, container] as const))('%s', (_label, pod, container) => {
  test('requests CPU and memory and limits memory (limit ≥ request)', () => {
    const resources = tree(container.spec.resources, 'resources');
    expect(at(resources, 'requests.cpu')).toBeDefined();
    const limit = parseQuantity(at(resources, 'limits.memory'));
    expect(limit).toBeGreaterThanOrEqual(parseQuantity(at(resources, 'requests.memory')));
  });

  test('has a liveness probe, and a readiness probe unless it is a sidecar, on ports the container declares', () => {
    // A native sidecar's readiness is part of its Pod's: see 'the sidecar Pod' below.
    const probes = container.sidecar ? ['livenessProbe', 'startupProbe'] : ['livenessProbe', 'readinessProbe'];
    for (const probe of probes) {
      const port = at(container.spec, `${probe}.httpGet.port`);
      expect({ probe, port: resolvePort(container, port) }).toEqual({ probe, port: expect.any(Number) });
    }
  });

  test('runs as non-root, without privilege escalation or capabilities, on a read-only root filesystem', () => {
    const context = tree(container.spec.securityContext, 'securityContext');
    expect(context.runAsNonRoot ?? at(pod.spec, 'securityContext.runAsNonRoot')).toBe(true);
    expect(context.runAsUser ?? at(pod.spec, 'securityContext.runAsUser')).toBeGreaterThan(0);
    expect(context.allowPrivilegeEscalation).toBe(false);
    expect(context.readOnlyRootFilesystem).toBe(true);
    expect(at(context, 'capabilities.drop')).toContain('ALL');
    expect(context.privileged).toBeUndefined();
  });

  test('mounts only volumes the Pod defines', () => {
    for (const mount of mountsOf(container)) expect(volumeNamed(pod, String(mount.name)) ?? at(pod.workload.doc, 'spec.volumeClaimTemplates')).toBeDefined();
  });
});

describe.each(PODS.map((pod) => [`${pod.workload.kind}/${pod.workload.name}`, pod] as const))('Pod template of %s', (_name, pod) => {
  test('meets the restricted Pod Security profile at Pod level (non-root, RuntimeDefault seccomp, no host namespaces)', () => {
    expect(at(pod.spec, 'securityContext.runAsNonRoot')).toBe(true);
    expect(at(pod.spec, 'securityContext.seccompProfile.type')).toBe('RuntimeDefault');
    for (const key of ['hostNetwork', 'hostPID', 'hostIPC']) expect(pod.spec[key]).toBeUndefined();
    for (const volume of (pod.spec.volumes ?? []) as Tree[]) expect(volume.hostPath).toBeUndefined();
  });

  test('no two containers (or their configured listeners) use the same port', () => {
    const owners = new Map<number, string>();
    for (const container of pod.containers) {
      const ports = new Set(containerPorts(container));
      if (isCapture(container)) for (const port of Object.values(listenPorts(captureConfigOf(pod, container)))) ports.add(port);
      if (isCollector(container)) for (const { port } of listeningPorts(collectorConfigOf(pod, container).config)) ports.add(port);
      for (const port of ports) {
        expect({ port, owners: [owners.get(port), container.name].filter(Boolean) }).toEqual({ port, owners: [container.name] });
        owners.set(port, container.name);
      }
    }
  });
});

describe.each(
  CONTAINERS.filter(({ container }) => isCapture(container)).map(({ pod, container }) => [label(pod, container), pod, container] as const),
)('otlp-capture in %s', (_label, pod, container) => {
  const config = captureConfigOf(pod, container);
  const ports = listenPorts(config);

  test('sets only environment variables the configuration loader reads', () => {
    expect(Object.keys(containerEnv(container)).filter((name) => !LOADER_ENV.has(name))).toEqual([]);
  });

  test('declares exactly the ports it listens on beyond loopback', () => {
    expect(containerPorts(container).sort()).toEqual(reachableListens(config).map(portOf).sort());
  });

  test('keeps the read API inside the Pod unless a read token is configured; no Service routes to it otherwise', () => {
    expect(config.server.api.allowUnauthenticated).toBe(false);
    if (!isLoopback(config.server.api.listen)) {
      expect(hasReadToken(config)).toBe(true);
      return;
    }
    const routed = pod.kustomization.manifests
      .filter((m) => m.kind === 'Service' && selects(at(m.doc, 'spec.selector'), pod))
      .flatMap((m) => (at(m.doc, 'spec.ports') as Tree[]).map((port) => resolvePort(container, port.targetPort ?? port.port)));
    expect(routed.length).toBeGreaterThan(0);
    expect(routed).not.toContain(ports.api);
  });

  test('is probed on the admin port: /healthz for liveness (never fails for a full spool or a backend down), /readyz for readiness', () => {
    expect(resolvePort(container, at(container.spec, 'livenessProbe.httpGet.port'))).toBe(ports.admin);
    expect(at(container.spec, 'livenessProbe.httpGet.path')).toBe('/healthz');
    if (container.sidecar) {
      // /readyz fails while S3 or ClickHouse cannot be used, the archiver lags or the spool is 90 % full. On a native
      // sidecar that would take the whole Collector Pod out of its Service (and stall its rollouts): every Collector at
      // once when the shared backends are down, cutting applications off from every exporter, not just this one.
      // Back-pressure reaches the Collector as UNAVAILABLE + RetryInfo instead; OtlpCaptureNotReady alerts.
      expect(container.spec.readinessProbe).toBeUndefined();
      expect(at(container.spec, 'startupProbe.httpGet.path')).toBe('/healthz');
      return;
    }
    expect(resolvePort(container, at(container.spec, 'readinessProbe.httpGet.port'))).toBe(ports.admin);
    expect(at(container.spec, 'readinessProbe.httpGet.path')).toBe('/readyz');
  });

  test('has a memory limit ≥ in-flight budget + S3 upload buffers + the measured overhead (260MiB)', () => {
    expect(parseQuantity(at(container.spec, 'resources.limits.memory'))).toBeGreaterThanOrEqual(memoryNeeded(config));
  });

  test('gets terminationGracePeriodSeconds ≥ shutdown.gracePeriod + 10s to drain', () => {
    expect(Number(pod.spec.terminationGracePeriodSeconds) * 1000).toBeGreaterThanOrEqual(config.shutdown.gracePeriod + 10_000);
  });

  test('keeps its spool (and a ClickHouse outbox beside it) on a volume at least 10 % larger than both can hold', () => {
    const located = mountFor(container, config.spool.dir)!;
    const volume = volumeNamed(pod, String(located.mount.name));
    const claim = ((at(pod.workload.doc, 'spec.volumeClaimTemplates') ?? []) as Tree[]).find((c) => at(c, 'metadata.name') === located.mount.name);
    const size = parseQuantity(claim ? at(claim, 'spec.resources.requests.storage') : at(volume, 'emptyDir.sizeLimit'));
    // During a ClickHouse outage the spool empties into the outbox until index.clickhouse.outboxMaxBytes, then fills.
    const outbox = config.index.type === 'clickhouse' && mountFor(container, config.index.clickhouse.outboxPath!)?.mount.name === located.mount.name
      ? config.index.clickhouse.outboxMaxBytes
      : 0;
    expect(size).toBeGreaterThanOrEqual(1.1 * (config.spool.maxBytes + outbox));
  });

  test('requests node disk (ephemeral-storage) for every emptyDir it writes, so disk pressure does not evict it first', () => {
    // Kubelet evicts Pods whose local storage exceeds their requests first when the node runs short of disk, and an
    // eviction deletes the emptyDir: the spool with whatever it acknowledged and had not archived yet.
    const emptyDirs = mountsOf(container)
      .map((mount) => volumeNamed(pod, String(mount.name)))
      .filter((volume) => at(volume, 'emptyDir') !== undefined)
      .map((volume) => parseQuantity(at(volume, 'emptyDir.sizeLimit')));
    for (const size of emptyDirs) expect(size).toBeGreaterThan(0);
    const total = emptyDirs.reduce((sum, size) => sum + size, 0);
    if (total === 0) return;
    expect(parseQuantity(at(container.spec, 'resources.requests.ephemeral-storage'))).toBeGreaterThanOrEqual(total);
  });

  test('if its spool is on an emptyDir, the docs say what is lost with the Pod (eviction, forced deletion, overrun drain)', () => {
    const located = mountFor(container, config.spool.dir)!;
    if (at(volumeNamed(pod, String(located.mount.name)), 'emptyDir') === undefined) return;
    const section = (file: string, heading: string): string => {
      const text = readFileSync(repoPath(file), 'utf8');
      const start = text.indexOf(heading);
      expect({ file, heading, found: start >= 0 }).toEqual({ file, heading, found: true });
      const next = text.indexOf('\n#', start + heading.length);
      return text.slice(start, next < 0 ? undefined : next);
    };
    for (const text of [section(`${KUBE_DIR}/README.md`, '## Probes, shutdown, sizing'), section('README.md', '## Deploy')]) {
      expect(text).toMatch(/emptyDir/);
      expect(text).toMatch(/\blost\b/);
      expect(text).toMatch(/evict/);
      expect(text).toMatch(/force/);
    }
  });

  test('has a writable /tmp despite the read-only root, and its TLS files (if any) from a Secret', () => {
    expect(at(volumeNamed(pod, String(mountFor(container, '/tmp/x')!.mount.name)), 'emptyDir')).toBeDefined();
    const tls = config.server.tls;
    if (tls) {
      for (const file of [tls.certFile, tls.keyFile]) {
        expect(at(volumeNamed(pod, String(mountFor(container, file)!.mount.name)), 'secret.secretName')).toEqual(expect.any(String));
      }
    }
  });

  test('closes gRPC connections after a bounded age (with grace), so Collectors rebalance over replicas', () => {
    if (isLoopback(config.server.grpc.listen)) return; // a sidecar's only client is its own Collector
    expect(config.server.grpc.maxConnectionAge).toBeGreaterThanOrEqual(5 * 60_000);
    expect(config.server.grpc.maxConnectionAge).toBeLessThanOrEqual(30 * 60_000);
    expect(config.server.grpc.maxConnectionAgeGrace).toBeGreaterThan(0);
    expect(config.server.grpc.maxConnectionAgeGrace).toBeLessThan(Number(pod.spec.terminationGracePeriodSeconds) * 1000);
  });

  test('uses an index that several Pods can share (ClickHouse), and S3 for objects', () => {
    expect(config.index.type).toBe('clickhouse');
    expect(config.storage.type).toBe('s3');
  });
});

describe('the sidecar Pod', () => {
  const pod = PODS.find((p) => p.workload.name === 'otel-collector')!;
  const capture = pod.containers.find(isCapture)!;
  const collector = pod.containers.find(isCollector)!;
  const captureConfig = captureConfigOf(pod, capture);
  const { config, missing } = collectorConfigOf(pod, collector);
  const [, exporter] = captureExporters(config)[0] ?? ['', {} as Tree];

  test('runs otlp-capture as a native sidecar, so it starts before the Collector and stops after it', () => {
    expect(capture.sidecar).toBe(true);
    expect(collector.sidecar).toBe(false);
    expect(at(capture.spec, 'startupProbe.httpGet.path')).toBe('/healthz');
  });

  test('the Collector configuration is sound, with every variable it reads set by the container', () => {
    expect(missing).toEqual([]);
    expect(collectorProblems(config)).toEqual([]);
  });

  test('the Collector exports over loopback to otlp-capture’s gRPC port, which listens on loopback only', () => {
    expect(captureConfig.server.grpc.listen).toMatch(/^127\./);
    expect(captureConfig.server.http.listen).toMatch(/^127\./);
    expect(exporter.endpoint).toBe(`127.0.0.1:${listenPorts(captureConfig).grpc}`);
    expect(exporter.compression).toBe('gzip');
    expect(at(exporter, 'retry_on_failure.enabled')).toBe(true);
    expect(at(exporter, 'sending_queue.enabled')).toBe(true);
  });

  test('plaintext without a token on both sides (loopback), and the tenant header set', () => {
    expect(at(exporter, 'tls.insecure')).toBe(true);
    expect(exporter.auth).toBeUndefined();
    expect(captureConfig.server.tls).toBeUndefined();
    // Its only token is the scraper's: it guards /metrics, not Export (src/admission/caller.ts).
    expect(captureConfig.auth.bearerTokens.map((token) => token.scopes)).toEqual([['metrics']]);
    expect(Object.keys(tree(exporter.headers, 'headers')).map((h) => h.toLowerCase())).toContain(captureConfig.admission.tenantHeader);
  });

  test('the Collector is probed on its health_check port, and its Go memory limit is below the container’s', () => {
    const healthPort = endpointPort(at(config, 'extensions.health_check.endpoint'));
    expect(resolvePort(collector, at(collector.spec, 'readinessProbe.httpGet.port'))).toBe(healthPort);
    expect(resolvePort(collector, at(collector.spec, 'livenessProbe.httpGet.port'))).toBe(healthPort);
    expect(parseQuantity(containerEnv(collector).GOMEMLIMIT!.replace(/B$/, ''))).toBeLessThan(parseQuantity(at(collector.spec, 'resources.limits.memory')));
  });
});

describe('the standalone StatefulSet', () => {
  const kustomization = KUSTOMIZATIONS[0]!;
  const pod = PODS[0]!;
  const capture = pod.containers.find(isCapture)!;
  const config = captureConfigOf(pod, capture);

  test('is governed by a headless Service', () => {
    const serviceName = at(pod.workload.doc, 'spec.serviceName');
    const governing = kustomization.manifests.find((m) => m.kind === 'Service' && m.name === serviceName)!;
    expect(at(governing.doc, 'spec.clusterIP')).toBe('None');
  });

  test('answers the endpoint collector-config/ exporters use by default: Service otlp-capture, gRPC port, TLS and a token', () => {
    const gateway = parseYamlDocuments(readFileSync(repoPath('collector-config/gateway.yaml'), 'utf8'), 'gateway.yaml')[0];
    const { value } = expandCollectorEnv(gateway, { BACKEND_OTLP_ENDPOINT: 'backend:4317' });
    const [, exporter] = captureExporters(value)[0]!;
    const [host, port] = String(exporter.endpoint).split(':');
    const service = kustomization.manifests.find((m) => m.kind === 'Service' && m.name === host)!;
    const servicePort = (at(service.doc, 'spec.ports') as Tree[]).find((p) => p.port === Number(port))!;
    expect(resolvePort(capture, servicePort.targetPort)).toBe(listenPorts(config).grpc);
    expect(config.server.tls).toBeDefined();
    expect(config.auth.bearerTokens.length).toBeGreaterThan(0);
    expect(exporter.auth).toBeDefined();
  });
});

test('every Secret the manifests reference (name and key) is documented in deploy/kubernetes/README.md', () => {
  const readme = readFileSync(repoPath(KUBE_DIR, 'README.md'), 'utf8');
  const references = new Set<string>();
  for (const { pod, container } of CONTAINERS) {
    for (const entry of (container.spec.env ?? []) as Tree[]) {
      const ref = at(entry, 'valueFrom.secretKeyRef') as Tree | undefined;
      if (ref) references.add(String(ref.name)).add(String(ref.key));
    }
    for (const mount of mountsOf(container)) {
      const secret = at(volumeNamed(pod, String(mount.name)), 'secret.secretName');
      if (secret !== undefined) references.add(String(secret));
    }
  }
  expect(references.size).toBeGreaterThan(5);
  expect([...references].filter((name) => !readme.includes(name))).toEqual([]);
  expect(statSync(repoPath(KUBE_DIR, 'README.md')).size).toBeGreaterThan(0);
});
