// PromQL read with Prometheus's own grammar (@prometheus-io/lezer-promql): the metric names a query selects, and
// whether it parses at all. Grafana's variables are replaced by values of the right kind first: `$__rate_interval`
// and friends stand where a duration goes, `$job` and `${datasource}` only inside label values.
import { parser } from '@prometheus-io/lezer-promql';

const GRAFANA_DURATIONS: Record<string, string> = {
  $__rate_interval: '1m',
  $__interval: '15s',
  $__range: '1h',
};

/** A Grafana query as PromQL: its duration variables replaced by durations. */
export function grafanaToPromql(expr: string): string {
  return expr.replace(/\$__(rate_interval|interval|range)\b/g, (name) => GRAFANA_DURATIONS[name]!);
}

export interface ParsedQuery {
  /** Metric names in vector selectors, in order of appearance, each once. */
  metrics: string[];
  /** Where the grammar could not parse, as text offsets; empty when the query is valid PromQL. */
  errors: number[];
}

export function parsePromql(expr: string): ParsedQuery {
  const metrics: string[] = [];
  const errors: number[] = [];
  const tree = parser.parse(expr);
  tree.iterate({
    enter(node) {
      if (node.type.isError) errors.push(node.from);
      // A metric name is the Identifier directly under a VectorSelector (label names and function names are other
      // node types; `{__name__="x"}` selectors are not used here).
      if (node.name === 'Identifier' && node.node.parent?.name === 'VectorSelector') {
        const name = expr.slice(node.from, node.to);
        if (!metrics.includes(name)) metrics.push(name);
      }
    },
  });
  return { metrics, errors };
}

/** Metric names of a Grafana `label_values(metric{…}, label)` variable query. */
export function labelValuesMetric(query: string): string | undefined {
  return /^label_values\(\s*([A-Za-z_:][A-Za-z0-9_:]*)/.exec(query)?.[1];
}
