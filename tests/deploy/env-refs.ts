// Environment references as the two tools that read our files expand them: the Collector (`${env:NAME}`,
// `${env:NAME:-default}`, the value read as YAML when it is the whole field) and Docker Compose (`${NAME}`,
// `${NAME:-default}`, `${NAME-default}`, `$$` for a literal `$`).
import { parse as parseYaml } from 'yaml';
import { isTree } from './repo-yaml.js';

export type Env = Readonly<Record<string, string | undefined>>;

export interface Expanded<T> {
  value: T;
  /** Variables referenced without a default and not set in the environment given. */
  missing: string[];
  /** Every variable referenced. */
  referenced: string[];
}

const COLLECTOR_REF = /\$\{env:([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/** A Collector configuration with every `${env:…}` expanded against `env`. */
export function expandCollectorEnv(config: unknown, env: Env): Expanded<unknown> {
  const missing = new Set<string>();
  const referenced = new Set<string>();
  const expandString = (text: string): unknown => {
    const whole = /^\$\{env:([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}$/.exec(text);
    const lookup = (name: string, fallback: string | undefined): string => {
      referenced.add(name);
      const value = env[name];
      if (value !== undefined) return value;
      if (fallback !== undefined) return fallback;
      missing.add(name);
      return '';
    };
    if (whole) {
      // The Collector parses a whole-field value as YAML: "true" becomes a boolean, "8" a number.
      const text = lookup(whole[1] as string, whole[2]);
      return text === '' ? '' : (parseYaml(text) as unknown);
    }
    return text.replace(COLLECTOR_REF, (_match, name: string, fallback: string | undefined) => lookup(name, fallback));
  };
  const walk = (node: unknown): unknown => {
    if (typeof node === 'string') return expandString(node);
    if (Array.isArray(node)) return node.map(walk);
    if (isTree(node)) return Object.fromEntries(Object.entries(node).map(([key, value]) => [key, walk(value)]));
    return node;
  };
  const value = walk(config);
  return { value, missing: [...missing].sort(), referenced: [...referenced].sort() };
}

const COMPOSE_REF = /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?-)([^}]*))?\}/g;

/** One Compose string with its `${…}` interpolated against the host environment `env` (`$$` becomes `$`). */
export function interpolateCompose(text: string, env: Env): Expanded<string> {
  const missing = new Set<string>();
  const referenced = new Set<string>();
  const value = text.replace(COMPOSE_REF, (match, name: string | undefined, operator: string | undefined, fallback: string | undefined) => {
    if (match === '$$') return '$';
    const variable = name as string;
    referenced.add(variable);
    const set = env[variable];
    // ":-" also replaces an empty value; "-" only an unset one.
    if (set !== undefined && (set !== '' || operator !== ':-')) return set;
    if (operator !== undefined) return fallback ?? '';
    missing.add(variable);
    return '';
  });
  return { value, missing: [...missing], referenced: [...referenced] };
}
