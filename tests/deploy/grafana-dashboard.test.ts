// deploy/grafana/otlp-capture.json checked statically: a current classic dashboard model with the data source as a
// variable, the rows the operations kit promises, panels laid out without overlap, and every query valid PromQL
// (Prometheus's grammar) that filters by the job and instance variables. That every metric it names exists is
// checked against a running serve in metric-names.int.test.ts, and a sample of its queries against a real
// Prometheus in prometheus-scrape.int.test.ts.
import { readFileSync } from 'node:fs';
import { grafanaToPromql, labelValuesMetric, parsePromql } from './promql.js';
import { repoPath, type Tree } from './repo-yaml.js';

export const DASHBOARD_FILE = 'deploy/grafana/otlp-capture.json';
const dashboard = JSON.parse(readFileSync(repoPath(DASHBOARD_FILE), 'utf8')) as Tree;
const panels = dashboard.panels as Tree[];
const rows = panels.filter((panel) => panel.type === 'row');
const charts = panels.filter((panel) => panel.type !== 'row');
const targets = charts.flatMap((panel) => (panel.targets as Tree[]).map((target) => ({ panel: String(panel.title), target })));
const variables = (dashboard.templating as { list: Tree[] }).list;

test('a classic dashboard model of a current Grafana, with a stable uid', () => {
  expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(39);
  expect(dashboard.uid).toBe('otlp-capture');
  expect(dashboard.title).toBe('otlp-capture');
  expect(dashboard.id).toBeUndefined();
});

test('the data source is a variable, and every panel and query uses it', () => {
  const datasource = variables.find((v) => v.name === 'datasource');
  expect(datasource).toMatchObject({ type: 'datasource', query: 'prometheus' });
  for (const panel of charts) expect(panel.datasource).toEqual({ type: 'prometheus', uid: '${datasource}' });
  for (const { target } of targets) expect(target.datasource).toEqual({ type: 'prometheus', uid: '${datasource}' });
  for (const variable of variables.filter((v) => v.type === 'query')) expect(variable.datasource).toEqual({ type: 'prometheus', uid: '${datasource}' });
});

test('rows: overview, then ingest, spool, archiver, index, read side and process, each with panels', () => {
  expect(rows.map((row) => row.title)).toEqual(['Overview', 'Ingest', 'Spool', 'Archiver', 'Index', 'Read side', 'Process']);
  const rowIndexes = panels.map((panel, i) => (panel.type === 'row' ? i : -1)).filter((i) => i >= 0);
  rowIndexes.forEach((start, n) => {
    const end = rowIndexes[n + 1] ?? panels.length;
    expect(end - start - 1).toBeGreaterThanOrEqual(3);
  });
});

test('panel ids are unique and panels sit on the 24-column grid without overlapping', () => {
  const ids = panels.map((panel) => panel.id);
  expect(new Set(ids).size).toBe(ids.length);
  const cells = new Set<string>();
  for (const panel of panels) {
    const { x, y, w, h } = panel.gridPos as { x: number; y: number; w: number; h: number };
    expect(x + w).toBeLessThanOrEqual(24);
    for (let dx = 0; dx < w; dx++) {
      for (let dy = 0; dy < h; dy++) {
        const cell = `${x + dx},${y + dy}`;
        expect(cells.has(cell)).toBe(false);
        cells.add(cell);
      }
    }
  }
});

test.each(targets.map(({ panel, target }) => [`${panel} ${String(target.refId)}`, String(target.expr)] as const))('%s is valid PromQL filtered by $job and $instance', (_name, expr) => {
  const parsed = parsePromql(grafanaToPromql(expr));
  expect(parsed.errors).toEqual([]);
  expect(parsed.metrics.length).toBeGreaterThan(0);
  // Every selector of an otlp-capture metric carries the dashboard's filters.
  const selectors = [...expr.matchAll(/\b(otlpcapture_\w+)(\{[^}]*\})?/g)];
  expect(selectors.length).toBeGreaterThan(0);
  for (const [, name, matchers] of selectors) {
    expect(`${name}${matchers ?? ''}`).toContain('job=~"$job", instance=~"$instance"');
  }
});

test('the PromQL check catches a broken query and finds the metric names of a valid one', () => {
  expect(parsePromql('sum by (job (rate(x[5m]))').errors.length).toBeGreaterThan(0);
  expect(parsePromql(grafanaToPromql('histogram_quantile(0.99, sum by (le) (rate(a_bucket{job=~"$job"}[$__rate_interval]))) / ignoring (x) group_left b:rec:rate5m')))
    .toEqual({ metrics: ['a_bucket', 'b:rec:rate5m'], errors: [] });
});

test('variables: job, instance (all) and tenant (all) from otlp-capture metrics', () => {
  expect(variables.map((v) => v.name)).toEqual(['datasource', 'job', 'instance', 'tenant']);
  for (const variable of variables.filter((v) => v.type === 'query')) {
    expect(labelValuesMetric(String(variable.definition))).toMatch(/^otlpcapture_/);
  }
});
