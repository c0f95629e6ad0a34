// Prometheus's own tool on deploy/prometheus/: `promtool check rules` on the rule file and on the groups of the
// PrometheusRule, and `promtool test rules` on the unit tests that make every alert fire and not fire. Debian's
// `prometheus` package provides promtool (scripts/install-test-deps.sh).
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { alertNames, OPERATOR_RULE_FILE, recordNames, ruleGroups, RULES_FILE } from './prometheus-rules.js';
import { readYaml, repoPath, tree, type Tree } from './repo-yaml.js';

const run = promisify(execFile);
const TESTS_DIR = 'deploy/prometheus/tests';
const TEST_FILES = readdirSync(repoPath(TESTS_DIR)).filter((f) => f.endsWith('.yaml')).sort();

async function promtool(args: string[], cwd = repoPath()): Promise<{ code: number; output: string }> {
  try {
    const { stdout, stderr } = await run('promtool', args, { cwd });
    return { code: 0, output: stdout + stderr };
  } catch (error) {
    const failed = error as { code?: number | string; stdout?: string; stderr?: string };
    if (failed.code === 'ENOENT') throw new Error('promtool not found: run ./scripts/install-test-deps.sh (Debian package prometheus)');
    return { code: Number(failed.code), output: `${failed.stdout ?? ''}${failed.stderr ?? ''}` };
  }
}

test('promtool check rules accepts the rule file', async () => {
  const result = await promtool(['check', 'rules', RULES_FILE]);
  expect(result.output).toMatch(/SUCCESS: \d+ rules found/);
  expect(result.code).toBe(0);
});

test('promtool check rules accepts the groups of the PrometheusRule', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'promtool-'));
  try {
    const file = path.join(dir, 'operator-groups.yaml');
    writeFileSync(file, stringify({ groups: ruleGroups(OPERATOR_RULE_FILE) }));
    const result = await promtool(['check', 'rules', file]);
    expect(result.code).toBe(0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('promtool check rules refuses a broken expression (the check can fail)', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'promtool-'));
  try {
    const file = path.join(dir, 'broken.yaml');
    writeFileSync(file, stringify({ groups: [{ name: 'broken', rules: [{ alert: 'Broken', expr: 'sum by (job (up)' }] }] }));
    const result = await promtool(['check', 'rules', file]);
    expect(result.code).not.toBe(0);
    expect(result.output).toMatch(/parse error/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('promtool test rules: every unit test passes', async () => {
  const result = await promtool(['test', 'rules', ...TEST_FILES], repoPath(TESTS_DIR));
  expect(result.output).not.toMatch(/FAILED/);
  expect(result.code).toBe(0);
  expect(result.output.match(/SUCCESS/g)).toHaveLength(TEST_FILES.length);
});

test('the unit tests make every alert fire and, at another time or for another series, not fire; every recording rule is checked', () => {
  const fired = new Set<string>();
  const quiet = new Set<string>();
  const recorded = new Set<string>();
  for (const file of TEST_FILES) {
    const document = tree(readYaml(`${TESTS_DIR}/${file}`), file);
    expect(document.rule_files).toEqual(['../otlp-capture.rules.yaml']);
    for (const test of document.tests as Tree[]) {
      for (const check of (test.alert_rule_test ?? []) as Tree[]) {
        const expected = (check.exp_alerts ?? []) as Tree[];
        (expected.length > 0 ? fired : quiet).add(String(check.alertname));
        // Firing expectations name their annotations too: the summary and description render with the values.
        for (const alert of expected) expect(Object.keys(tree(alert.exp_annotations, `${file} ${String(check.alertname)}`)).sort()).toEqual(['description', 'runbook_url', 'summary']);
      }
      for (const check of (test.promql_expr_test ?? []) as Tree[]) recorded.add(String(check.expr));
    }
  }
  expect([...fired].sort()).toEqual([...alertNames()].sort());
  expect([...quiet].sort()).toEqual([...alertNames()].sort());
  expect([...recorded].sort()).toEqual([...recordNames()].sort());
});

test('a unit test that expects the wrong thing fails (promtool test rules can fail)', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'promtool-'));
  try {
    const file = path.join(dir, 'wrong.yaml');
    writeFileSync(
      file,
      stringify({
        rule_files: [repoPath(RULES_FILE)],
        evaluation_interval: '1m',
        tests: [
          {
            interval: '1m',
            input_series: [{ series: 'up{job="otlp-capture", instance="a:8888"}', values: '1x20' }],
            alert_rule_test: [{ eval_time: '15m', alertname: 'OtlpCaptureDown', exp_alerts: [{ exp_labels: { severity: 'critical', job: 'otlp-capture', instance: 'a:8888' } }] }],
          },
        ],
      }),
    );
    const result = await promtool(['test', 'rules', file]);
    expect(result.code).not.toBe(0);
    expect(result.output).toMatch(/FAILED/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
