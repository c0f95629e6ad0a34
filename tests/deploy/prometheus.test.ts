// deploy/prometheus/ checked statically: the PrometheusRule carries exactly the plain rule file's groups (and is what
// scripts/prometheus-rules.mjs generates); every alert has a severity, a summary, a description and a runbook link
// to its own section of docs/RUNBOOK.md, and is in the README's alerts table; the ServiceMonitor and PodMonitor
// select the Service / Pods of deploy/kubernetes/ and scrape the port otlp-capture serves /metrics on.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import { listenPorts, loadConfigText } from './capture-config.js';
import { configArg, configMapFile, containerEnv, isCapture, kustomizations, podTemplates, resolvePort, selects } from './kube-model.js';
import { alertNames, OPERATOR_RULE_FILE, ruleGroups, rules, RULES_FILE } from './prometheus-rules.js';
import { readYaml, repoPath, tree, type Tree } from './repo-yaml.js';

const MONITORING_DIR = 'deploy/prometheus/kubernetes';
const RUNBOOK = readFileSync(repoPath('docs/RUNBOOK.md'), 'utf8');
const README = readFileSync(repoPath('README.md'), 'utf8');

/** GitHub's anchor of a heading: lowercase, spaces to '-', punctuation other than '-' and '_' dropped. */
const anchorOf = (heading: string): string => heading.trim().toLowerCase().replace(/[^\p{L}\p{N} _-]/gu, '').replace(/ /g, '-');

function runbookAnchors(): Map<string, string> {
  return new Map([...RUNBOOK.matchAll(/^#{2,3} (.+)$/gm)].map((m) => [anchorOf(m[1]!), m[1]!.trim()]));
}

/** The README's Monitoring section. */
function monitoringSection(): string {
  const start = README.search(/^## Monitoring$/m);
  expect(start).toBeGreaterThanOrEqual(0);
  const rest = README.slice(start + 1);
  const end = rest.search(/^## /m);
  return end < 0 ? rest : rest.slice(0, end);
}

test('the rule file has recording rules and one alert for each concern the operations kit covers', () => {
  expect(alertNames()).toEqual([
    'OtlpCaptureDown',
    'OtlpCaptureNotReady',
    'OtlpCaptureSpoolFillingUp',
    'OtlpCaptureSpoolAlmostFull',
    'OtlpCaptureArchiveLagHigh',
    'OtlpCaptureArchiverStalled',
    'OtlpCaptureSpoolCorruption',
    'OtlpCaptureRecordsQuarantined',
    'OtlpCaptureUploadsFailing',
    'OtlpCaptureIndexWritesFailing',
    'OtlpCaptureIndexLagHigh',
    'OtlpCaptureIndexRowsSetAside',
    'OtlpCaptureRejectionsHigh',
    'OtlpCaptureTlsCertificateExpiring',
    'OtlpCaptureRetentionFailing',
    'OtlpCaptureRetentionNotRunning',
    'OtlpCaptureNotificationsFailing',
  ]);
  const records = rules().filter((rule) => rule.record !== undefined).map((rule) => rule.record!);
  expect(records).toEqual(expect.arrayContaining([
    'job_signal_tenant:otlpcapture_requests_received:rate5m',
    'job_signal_tenant:otlpcapture_items_received:rate5m',
    'job_signal_tenant:otlpcapture_bytes_received:rate5m',
    'job_signal:otlpcapture_archive_lag_seconds:p99_5m',
  ]));
});

test('alert thresholds agree with serve’s defaults: warn before /readyz gives up, and not during normal batching', () => {
  const defaults = loadConfigText('', {});
  const expr = (alert: string): string => rules().find((rule) => rule.alert === alert)!.expr;
  const number = (alert: string, pattern: RegExp): number => Number(pattern.exec(expr(alert))![1]);
  // /readyz fails at 90 % of spool.maxBytes (src/app/capture-server.ts); the critical alert comes before that.
  const almostFull = number('OtlpCaptureSpoolAlmostFull', /otlpcapture_spool_max_bytes > (0\.\d+)/);
  expect(almostFull).toBeLessThan(0.9);
  expect(almostFull).toBeGreaterThan(number('OtlpCaptureSpoolFillingUp', /otlpcapture_spool_max_bytes > (0\.\d+)/));
  // Requests of a quiet tenant wait up to archiver.maxObjectAge in an open object: no lag alert for that.
  expect(number('OtlpCaptureArchiveLagHigh', /otlpcapture_spool_oldest_unarchived_age_seconds > (\d+)/) * 1000).toBeGreaterThan(defaults.archiver.maxObjectAge);
  // The same outbox age as serve's own Slack alert (notify.alerts.indexLag).
  expect(number('OtlpCaptureIndexLagHigh', /otlpcapture_index_outbox_lag_seconds > (\d+)/) * 1000).toBe(defaults.notify.alerts.indexLag);
});

test('the PrometheusRule carries the same groups as the plain rule file, and is what the generator writes', () => {
  expect(isDeepStrictEqual(ruleGroups(OPERATOR_RULE_FILE), ruleGroups(RULES_FILE))).toBe(true);
  expect(ruleGroups(RULES_FILE).map((group) => group.name)).toEqual(['otlp-capture.recording', 'otlp-capture.alerts']);
  const operatorRule = tree(readYaml(OPERATOR_RULE_FILE), OPERATOR_RULE_FILE);
  expect([operatorRule.apiVersion, operatorRule.kind]).toEqual(['monitoring.coreos.com/v1', 'PrometheusRule']);
  // Exit 0 only when the committed file is byte for byte what the rule file gives.
  execFileSync(process.execPath, [repoPath('scripts/prometheus-rules.mjs'), '--check'], { stdio: 'pipe' });
});

test('--runbook-base makes every runbook link absolute, and the comparison catches a changed rule', () => {
  const printed = execFileSync(process.execPath, [repoPath('scripts/prometheus-rules.mjs'), '--runbook-base', 'https://git.example.com/o/otlp-capture/blob/v1'], { encoding: 'utf8' });
  const links = [...printed.matchAll(/^\s*runbook_url: (\S+)$/gm)].map((m) => m[1]!);
  expect(links.length).toBe(rules().filter((rule) => rule.alert !== undefined).length);
  for (const link of links) expect(link).toMatch(/^https:\/\/git\.example\.com\/o\/otlp-capture\/blob\/v1\/docs\/RUNBOOK\.md#otlpcapture[a-z]+$/);
  const changed = ruleGroups(RULES_FILE).map((group) => ({ ...group, interval: '1m' }));
  expect(isDeepStrictEqual(ruleGroups(OPERATOR_RULE_FILE), changed)).toBe(false);
});

describe.each(rules().filter((rule) => rule.alert !== undefined).map((rule) => [`${rule.alert} (${String(rule.labels.severity)})`, rule] as const))('alert %s', (_name, rule) => {
  test('has a severity, a summary, a description and a runbook link to its own section', () => {
    expect(['warning', 'critical']).toContain(rule.labels.severity);
    expect(String(rule.annotations.summary).length).toBeGreaterThan(10);
    // The description says what the value is: every one shows $value or names the labels it is about.
    expect(String(rule.annotations.description)).toMatch(/\{\{ \$(value|labels\.\w+)/);
    const link = String(rule.annotations.runbook_url);
    expect(link).toBe(`docs/RUNBOOK.md#${rule.alert!.toLowerCase()}`);
    expect(runbookAnchors().get(link.split('#')[1]!)).toBe(rule.alert);
  });

  test('is in the README alerts table with its severity', () => {
    const row = monitoringSection().split('\n').find((line) => line.startsWith(`| \`${rule.alert}\` |`));
    expect(row).toBeDefined();
    expect(row).toContain(String(rule.labels.severity));
  });
});

test('the runbook has a section for each alert and no section for an alert that does not exist', () => {
  const sections = [...RUNBOOK.matchAll(/^## (OtlpCapture\w+)$/gm)].map((m) => m[1]);
  expect(sections).toEqual(alertNames());
  for (const section of RUNBOOK.split(/^## /m).slice(1).filter((s) => s.startsWith('OtlpCapture'))) {
    expect(section).toMatch(/\*\*What it means\*\*/);
    expect(section).toMatch(/\*\*What to check\*\*/);
    expect(section).toMatch(/\*\*What to do\*\*/);
  }
  const tableAlerts = [...monitoringSection().matchAll(/^\| `(OtlpCapture\w+)` \|/gm)].map((m) => m[1]);
  expect(tableAlerts).toEqual(alertNames());
});

describe('Prometheus Operator objects', () => {
  const monitoring = tree(readYaml(`${MONITORING_DIR}/kustomization.yaml`), 'monitoring kustomization');
  const standalone = kustomizations().find((k) => k.dir === 'deploy/kubernetes')!;
  const sidecar = kustomizations().find((k) => k.dir === 'deploy/kubernetes/sidecar')!;
  const adminPortOf = (kustomization: typeof standalone): number => {
    const pod = podTemplates(kustomization)[0]!;
    const capture = pod.containers.find(isCapture)!;
    return listenPorts(loadConfigText(configMapFile(pod, capture, configArg(capture)!), containerEnv(capture))).admin;
  };

  test('the monitoring kustomization lists its three objects', () => {
    expect(monitoring.resources).toEqual(['servicemonitor.yaml', 'podmonitor.yaml', 'prometheusrule.yaml']);
  });

  test('the ServiceMonitor scrapes /metrics on the admin port of the standalone Service', () => {
    const monitor = tree(readYaml(`${MONITORING_DIR}/servicemonitor.yaml`), 'ServiceMonitor');
    expect([monitor.apiVersion, monitor.kind]).toEqual(['monitoring.coreos.com/v1', 'ServiceMonitor']);
    const spec = tree(monitor.spec, 'spec');
    expect(tree(spec.namespaceSelector, 'namespaceSelector').matchNames).toEqual([standalone.doc.namespace]);
    const matchLabels = tree(tree(spec.selector, 'selector').matchLabels, 'matchLabels');
    const labelsOf = (doc: Tree): Tree => tree(tree(doc.metadata, 'metadata').labels ?? {}, 'labels');
    const services = standalone.manifests.filter((m) => m.kind === 'Service' && Object.entries(matchLabels).every(([k, v]) => labelsOf(m.doc)[k] === v));
    expect(services.length).toBeGreaterThan(0);
    const [endpoint] = spec.endpoints as Tree[];
    expect(endpoint!.path).toBe('/metrics');
    const withPort = services.flatMap((service) => (tree(service.doc.spec, 'spec').ports as Tree[]).filter((p) => p.name === endpoint!.port).map((p) => ({ service, port: p })));
    // Exactly one Service has the port (the headless one does not): one target per Pod, not two.
    expect(withPort.map((s) => s.service.name)).toEqual(['otlp-capture']);
    const pod = podTemplates(standalone).find((p) => selects(tree(withPort[0]!.service.doc.spec, 'spec').selector, p))!;
    const capture = pod.containers.find(isCapture)!;
    expect(resolvePort(capture, withPort[0]!.port.targetPort)).toBe(adminPortOf(standalone));
  });

  test('the PodMonitor scrapes the sidecar on its admin port, labelled with the job the rules expect', () => {
    const monitor = tree(readYaml(`${MONITORING_DIR}/podmonitor.yaml`), 'PodMonitor');
    expect([monitor.apiVersion, monitor.kind]).toEqual(['monitoring.coreos.com/v1', 'PodMonitor']);
    const spec = tree(monitor.spec, 'spec');
    expect(tree(spec.namespaceSelector, 'namespaceSelector').matchNames).toEqual([sidecar.doc.namespace]);
    const pods = podTemplates(sidecar).filter((pod) => selects(spec.selector, pod));
    expect(pods.map((pod) => pod.workload.name)).toEqual(['otel-collector']);
    const [endpoint] = spec.podMetricsEndpoints as Tree[];
    expect(endpoint!.path).toBe('/metrics');
    const capture = pods[0]!.containers.find(isCapture)!;
    expect(resolvePort(capture, endpoint!.port)).toBe(adminPortOf(sidecar));
    expect(endpoint!.relabelings).toEqual([{ targetLabel: 'job', replacement: 'otlp-capture' }]);
  });

  test('both send, as a bearer token, the Secret key their otlp-capture gets as its metrics token', () => {
    // /metrics answers the network only with a token that has the metrics scope (src/telemetry/metrics-access.ts).
    const cases = [
      { file: 'servicemonitor.yaml', endpoints: 'endpoints', kustomization: standalone },
      { file: 'podmonitor.yaml', endpoints: 'podMetricsEndpoints', kustomization: sidecar },
    ];
    for (const { file, endpoints, kustomization } of cases) {
      const spec = tree(tree(readYaml(`${MONITORING_DIR}/${file}`), file).spec, 'spec');
      const [endpoint] = spec[endpoints] as Tree[];
      const authorization = tree(endpoint!.authorization, `${file} authorization`);
      expect(authorization.type).toBe('Bearer');
      const credentials = tree(authorization.credentials, 'credentials');
      const capture = podTemplates(kustomization)[0]!.containers.find(isCapture)!;
      const env = ((capture.spec.env ?? []) as Tree[]).find((entry) => entry.name === 'OTLP_CAPTURE_METRICS_TOKEN');
      const ref = tree(tree(tree(env?.valueFrom, `${file}: OTLP_CAPTURE_METRICS_TOKEN`).secretKeyRef, 'secretKeyRef'), 'secretKeyRef');
      expect({ name: credentials.name, key: credentials.key }).toEqual({ name: ref.name, key: ref.key });
    }
  });

  test('the job label both produce is the one OtlpCaptureDown watches', () => {
    // A ServiceMonitor's job label is the name of the Service it scrapes; the PodMonitor sets it (above).
    const down = rules().find((rule) => rule.alert === 'OtlpCaptureDown')!;
    expect(down.expr).toBe('up{job="otlp-capture"} == 0');
    expect(standalone.manifests.some((m) => m.kind === 'Service' && m.name === 'otlp-capture')).toBe(true);
  });
});
