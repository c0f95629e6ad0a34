// The rule file of deploy/prometheus/ as data: its groups, alerts and recording rules, for the checks that read it.
import { isTree, readYaml, tree, type Tree } from './repo-yaml.js';

export const RULES_FILE = 'deploy/prometheus/otlp-capture.rules.yaml';
export const OPERATOR_RULE_FILE = 'deploy/prometheus/kubernetes/prometheusrule.yaml';

export interface Rule {
  group: string;
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels: Tree;
  annotations: Tree;
}

export function ruleGroups(file = RULES_FILE): Tree[] {
  const document = tree(readYaml(file), file);
  const groups = file === OPERATOR_RULE_FILE ? tree(document.spec, `${file} spec`).groups : document.groups;
  if (!Array.isArray(groups)) throw new Error(`${file}: no groups`);
  return groups.map((group) => tree(group, `${file} group`));
}

export function rules(file = RULES_FILE): Rule[] {
  return ruleGroups(file).flatMap((group) =>
    (Array.isArray(group.rules) ? group.rules : []).map((value) => {
      const rule = tree(value, `${file} rule`);
      return {
        group: String(group.name),
        ...(rule.alert === undefined ? {} : { alert: String(rule.alert) }),
        ...(rule.record === undefined ? {} : { record: String(rule.record) }),
        expr: String(rule.expr),
        ...(rule.for === undefined ? {} : { for: String(rule.for) }),
        labels: isTree(rule.labels) ? rule.labels : {},
        annotations: isTree(rule.annotations) ? rule.annotations : {},
      };
    }),
  );
}

/** Alert names, each once, in file order. */
export function alertNames(): string[] {
  return [...new Set(rules().flatMap((rule) => (rule.alert === undefined ? [] : [rule.alert])))];
}

export function recordNames(): string[] {
  return rules().flatMap((rule) => (rule.record === undefined ? [] : [rule.record]));
}
