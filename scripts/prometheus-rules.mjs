#!/usr/bin/env node
// deploy/prometheus/otlp-capture.rules.yaml is the one source of the rules; this writes the Prometheus Operator's
// PrometheusRule (deploy/prometheus/kubernetes/prometheusrule.yaml) from it, text for text, so comments and block
// scalars stay as written.
//
//   node scripts/prometheus-rules.mjs                      rewrite the PrometheusRule
//   node scripts/prometheus-rules.mjs --check              exit 1 if it is not what the rule file gives (CI)
//   node scripts/prometheus-rules.mjs --runbook-base URL [--kubernetes]
//       print the rule file (or the PrometheusRule) with each runbook_url made absolute: URL + docs/RUNBOOK.md#…,
//       e.g. --runbook-base https://git.example.com/platform/otlp-capture/blob/v0.1.0/
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const RULES = fileURLToPath(new URL('../deploy/prometheus/otlp-capture.rules.yaml', import.meta.url));
const OPERATOR_RULE = fileURLToPath(new URL('../deploy/prometheus/kubernetes/prometheusrule.yaml', import.meta.url));

const HEADER = `# Generated from deploy/prometheus/otlp-capture.rules.yaml by scripts/prometheus-rules.mjs: edit that file and run the
# script again. The same groups as the plain rule file, for the Prometheus Operator. Its ruleSelector must match these
# labels: kube-prometheus-stack, for one, selects \`release: <its Helm release>\` (add it with kustomize \`labels\`).
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  name: otlp-capture
  labels:
    app.kubernetes.io/name: otlp-capture
spec:
`;

/** The rule file from its `groups:` line on (the comment block above it describes the plain file). */
function groupsText(rules) {
  const start = rules.search(/^groups:/m);
  if (start < 0) throw new Error(`${RULES}: no top-level groups:`);
  return rules.slice(start);
}

export function operatorRule(rules) {
  const indented = groupsText(rules)
    .split('\n')
    .map((line) => (line === '' ? '' : `  ${line}`))
    .join('\n');
  return HEADER + indented;
}

export function withRunbookBase(text, base) {
  const prefix = base.endsWith('/') ? base : `${base}/`;
  return text.replace(/^(\s*runbook_url: )docs\//gm, `$1${prefix}docs/`);
}

const args = process.argv.slice(2);
const rules = readFileSync(RULES, 'utf8');
const baseAt = args.indexOf('--runbook-base');
if (baseAt >= 0) {
  const base = args[baseAt + 1];
  if (!base || !/^https?:\/\//.test(base)) {
    console.error('--runbook-base needs an http(s) URL, e.g. https://git.example.com/platform/otlp-capture/blob/v0.1.0/');
    process.exit(2);
  }
  process.stdout.write(withRunbookBase(args.includes('--kubernetes') ? operatorRule(rules) : rules, base));
} else if (args.includes('--check')) {
  if (readFileSync(OPERATOR_RULE, 'utf8') !== operatorRule(rules)) {
    console.error(`${OPERATOR_RULE} is out of date: run node scripts/prometheus-rules.mjs`);
    process.exit(1);
  }
} else if (args.length === 0) {
  writeFileSync(OPERATOR_RULE, operatorRule(rules));
} else {
  console.error(`unknown arguments: ${args.join(' ')}\nusage: prometheus-rules.mjs [--check | --runbook-base URL [--kubernetes]]`);
  process.exit(2);
}
