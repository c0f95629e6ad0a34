// The Kubernetes manifests under deploy/kubernetes/, grouped by kustomization, with what the checks need from
// them: Pod templates and their containers (native sidecars included), the files a container reads from ConfigMaps,
// and the environment a container gets (secrets replaced by placeholders of the right shape).
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { placeholderFor } from './capture-config.js';
import { isTree, readYaml, readYamlDocuments, repoPath, tree, type Tree } from './repo-yaml.js';

export const KUBE_DIR = 'deploy/kubernetes';

export interface Manifest {
  file: string;
  kind: string;
  name: string;
  doc: Tree;
}

export interface Kustomization {
  dir: string;
  doc: Tree;
  resources: string[];
  manifests: Manifest[];
}

export interface Container {
  spec: Tree;
  name: string;
  /** An init container with restartPolicy: Always (a native sidecar). */
  sidecar: boolean;
}

export interface PodTemplate {
  workload: Manifest;
  kustomization: Kustomization;
  labels: Tree;
  spec: Tree;
  containers: Container[];
}

/** Every directory under deploy/kubernetes with a kustomization.yaml. */
export function kustomizations(): Kustomization[] {
  const dirs: string[] = [];
  const walk = (dir: string): void => {
    if (existsSync(repoPath(dir, 'kustomization.yaml'))) dirs.push(dir);
    for (const entry of readdirSync(repoPath(dir), { withFileTypes: true })) if (entry.isDirectory()) walk(path.posix.join(dir, entry.name));
  };
  walk(KUBE_DIR);
  return dirs.map((dir) => {
    const doc = tree(readYaml(`${dir}/kustomization.yaml`), `${dir}/kustomization.yaml`);
    const resources = Array.isArray(doc.resources) ? doc.resources.map(String) : [];
    const manifests = resources
      .filter((resource) => existsSync(repoPath(dir, resource)) && statSync(repoPath(dir, resource)).isFile())
      .flatMap((resource) =>
        readYamlDocuments(`${dir}/${resource}`).map((value) => {
          const manifest = tree(value, `${dir}/${resource}`);
          return { file: `${dir}/${resource}`, kind: String(manifest.kind), name: String(tree(manifest.metadata, 'metadata').name), doc: manifest };
        }),
      );
    return { dir, doc, resources, manifests };
  });
}

const WORKLOADS = new Set(['Deployment', 'StatefulSet', 'DaemonSet']);

export function podTemplates(kustomization: Kustomization): PodTemplate[] {
  return kustomization.manifests
    .filter((manifest) => WORKLOADS.has(manifest.kind))
    .map((workload) => {
      const template = tree((workload.doc.spec as Tree).template, `${workload.file} template`);
      const spec = tree(template.spec, `${workload.file} pod spec`);
      const list = (value: unknown): Tree[] => (Array.isArray(value) ? value.map((item) => tree(item, 'container')) : []);
      const containers = [
        ...list(spec.initContainers).filter((c) => c.restartPolicy === 'Always').map((c) => ({ spec: c, name: String(c.name), sidecar: true })),
        ...list(spec.containers).map((c) => ({ spec: c, name: String(c.name), sidecar: false })),
      ];
      return { workload, kustomization, labels: tree(tree(template.metadata, 'metadata').labels, 'labels'), spec, containers };
    });
}

export function isCapture(container: Container): boolean {
  return /(^|\/)otlp-capture(:|@|$)/.test(String(container.spec.image));
}

export function isCollector(container: Container): boolean {
  return /opentelemetry-collector/.test(String(container.spec.image));
}

function volumes(pod: PodTemplate): Tree[] {
  return Array.isArray(pod.spec.volumes) ? pod.spec.volumes.map((volume) => tree(volume, 'volume')) : [];
}

export function volumeNamed(pod: PodTemplate, name: string): Tree | undefined {
  return volumes(pod).find((volume) => volume.name === name);
}

export function mountsOf(container: Container): Tree[] {
  return Array.isArray(container.spec.volumeMounts) ? container.spec.volumeMounts.map((mount) => tree(mount, 'volumeMount')) : [];
}

/** The mount a path in the container is on (longest mountPath), and the path inside it. */
export function mountFor(container: Container, file: string): { mount: Tree; rest: string } | undefined {
  const mount = mountsOf(container)
    .filter((m) => file === m.mountPath || file.startsWith(`${String(m.mountPath)}/`))
    .sort((a, b) => String(b.mountPath).length - String(a.mountPath).length)[0];
  return mount && { mount, rest: path.posix.relative(String(mount.mountPath), file) };
}

/** The text of a file a container reads from a ConfigMap volume of its own kustomization. */
export function configMapFile(pod: PodTemplate, container: Container, file: string): string {
  const located = mountFor(container, file);
  if (!located) throw new Error(`${container.name}: nothing is mounted at ${file}`);
  const volume = volumeNamed(pod, String(located.mount.name));
  const configMapName = (volume?.configMap as Tree | undefined)?.name;
  if (configMapName === undefined) throw new Error(`${container.name}: ${file} is not on a ConfigMap volume`);
  const configMap = pod.kustomization.manifests.find((m) => m.kind === 'ConfigMap' && m.name === configMapName);
  const text = (configMap?.doc.data as Tree | undefined)?.[located.rest];
  if (typeof text !== 'string') throw new Error(`ConfigMap ${String(configMapName)} has no key ${located.rest}`);
  return text;
}

/** The container's environment: literal values, and placeholders where the value comes from the cluster. */
export function containerEnv(container: Container): Record<string, string> {
  const env: Record<string, string> = {};
  for (const entry of Array.isArray(container.spec.env) ? container.spec.env : []) {
    const { name, value, valueFrom } = tree(entry, 'env');
    const variable = String(name);
    if (value !== undefined) env[variable] = String(value);
    else if (isTree(valueFrom) && isTree(valueFrom.fieldRef)) env[variable] = 'default';
    else env[variable] = placeholderFor(variable);
  }
  return env;
}

/** The value of `--config` / `--config=` in a container's args. */
export function configArg(container: Container): string | undefined {
  const args = Array.isArray(container.spec.args) ? container.spec.args.map(String) : [];
  for (const [i, arg] of args.entries()) {
    if (arg === '--config') return args[i + 1];
    if (arg.startsWith('--config=')) return arg.slice('--config='.length);
  }
  return undefined;
}

/** A port a probe or Service names (by name or number), as the container port number. */
export function resolvePort(container: Container, port: unknown): number | undefined {
  const ports = Array.isArray(container.spec.ports) ? container.spec.ports.map((p) => tree(p, 'port')) : [];
  if (typeof port === 'number') return ports.some((p) => p.containerPort === port) ? port : undefined;
  const found = ports.find((p) => p.name === port)?.containerPort;
  return typeof found === 'number' ? found : undefined;
}

export function containerPorts(container: Container): number[] {
  return (Array.isArray(container.spec.ports) ? container.spec.ports : []).map((p) => Number((p as Tree).containerPort));
}

/** Whether a selector's matchLabels (or a Service selector) picks this Pod template. */
export function selects(selector: unknown, pod: PodTemplate): boolean {
  const labels = isTree(selector) && isTree(selector.matchLabels) ? selector.matchLabels : selector;
  return isTree(labels) && Object.keys(labels).length > 0 && Object.entries(labels).every(([key, value]) => pod.labels[key] === value);
}
