// The YAML files under collector-config/ and deploy/, read strictly: a duplicate key, a tag or anchor problem, or
// any parser warning is an error naming the file. Kubernetes files may hold several documents.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

export const REPO = fileURLToPath(new URL('../../', import.meta.url));

export function repoPath(...parts: string[]): string {
  return path.join(REPO, ...parts);
}

/** Every .yaml / .yml file under `dir` (relative to the repository), as repository-relative paths, sorted. */
export function yamlFilesUnder(dir: string): string[] {
  const found: string[] = [];
  const walk = (relative: string): void => {
    for (const entry of readdirSync(repoPath(relative), { withFileTypes: true })) {
      const child = path.posix.join(relative, entry.name);
      if (entry.isDirectory()) walk(child);
      else if (/\.ya?ml$/.test(entry.name)) found.push(child);
    }
  };
  walk(dir);
  return found.sort();
}

/** The documents of a YAML text as plain values. @throws Error naming `where` on any error or warning. */
export function parseYamlDocuments(text: string, where: string, version: '1.1' | '1.2' = '1.2'): unknown[] {
  const documents = parseAllDocuments(text, { version, uniqueKeys: true, strict: true, prettyErrors: true });
  if (!Array.isArray(documents)) return [];
  return documents.map((document, index) => {
    const problems = [...document.errors, ...document.warnings];
    if (problems.length > 0) {
      throw new Error(`${where} (document ${index + 1}): ${problems.map((problem) => problem.message).join('; ')}`);
    }
    return document.toJS({ maxAliasCount: 0 }) as unknown;
  });
}

export function readYamlDocuments(file: string, version: '1.1' | '1.2' = '1.2'): unknown[] {
  return parseYamlDocuments(readFileSync(repoPath(file), 'utf8'), file, version);
}

/** The single document of a file that must hold exactly one. */
export function readYaml(file: string): unknown {
  const documents = readYamlDocuments(file);
  if (documents.length !== 1) throw new Error(`${file}: expected one YAML document, found ${documents.length}`);
  return documents[0];
}

export type Tree = Record<string, unknown>;

export function isTree(value: unknown): value is Tree {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `value` as a mapping; @throws naming `what` when it is not one. */
export function tree(value: unknown, what: string): Tree {
  if (!isTree(value)) throw new Error(`${what}: expected a mapping, got ${JSON.stringify(value)}`);
  return value;
}

/** The value at a dotted path of nested mappings, or undefined. */
export function at(value: unknown, dotted: string): unknown {
  let node: unknown = value;
  for (const key of dotted.split('.')) {
    if (!isTree(node)) return undefined;
    node = node[key];
  }
  return node;
}
