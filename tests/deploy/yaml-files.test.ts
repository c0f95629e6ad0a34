// Every YAML file under collector-config/ and deploy/ (and every YAML file embedded in a ConfigMap) parses strictly,
// and reads the same as YAML 1.1 and 1.2: Kubernetes' parser follows 1.1 (`on`, `yes`, `0755`, `22:22` are not
// strings there), Compose and the Collector mostly 1.2; a value that differs would mean different things to them.
import { isDeepStrictEqual } from 'node:util';
import { isTree, parseYamlDocuments, readYamlDocuments, yamlFilesUnder } from './repo-yaml.js';

const FILES = [...yamlFilesUnder('collector-config'), ...yamlFilesUnder('deploy')];

/** YAML texts held in ConfigMaps (keys ending in .yaml / .yml), with where they are. */
function embeddedYaml(file: string): { where: string; text: string }[] {
  return readYamlDocuments(file).flatMap((document, index) => {
    if (!isTree(document) || document.kind !== 'ConfigMap' || !isTree(document.data)) return [];
    return Object.entries(document.data)
      .filter(([key, value]) => /\.ya?ml$/.test(key) && typeof value === 'string')
      .map(([key, value]) => ({ where: `${file} document ${index + 1} data.${key}`, text: value as string }));
  });
}

test('there are Collector, Compose and Kubernetes files to check', () => {
  expect(FILES.length).toBeGreaterThanOrEqual(15);
  expect(FILES).toEqual(expect.arrayContaining(['deploy/docker-compose.yaml', 'deploy/kubernetes/kustomization.yaml']));
});

describe.each(FILES)('%s', (file) => {
  test('parses strictly (no duplicate keys, no warnings) into non-empty documents', () => {
    const documents = readYamlDocuments(file);
    expect(documents.length).toBeGreaterThan(0);
    for (const document of documents) expect(isTree(document) && Object.keys(document).length > 0).toBe(true);
  });

  test('means the same to a YAML 1.1 and a YAML 1.2 parser', () => {
    expect(isDeepStrictEqual(readYamlDocuments(file, '1.1'), readYamlDocuments(file, '1.2'))).toBe(true);
  });

  test('YAML embedded in its ConfigMaps parses and means the same in 1.1 and 1.2', () => {
    for (const { where, text } of embeddedYaml(file)) {
      const modern = parseYamlDocuments(text, where, '1.2');
      expect(modern).toHaveLength(1);
      expect(isDeepStrictEqual(parseYamlDocuments(text, where, '1.1'), modern)).toBe(true);
    }
  });
});

test('the 1.1 / 1.2 comparison does catch the classic traps', () => {
  for (const trap of ['ports: [22:22]', 'enabled: on', 'mode: 0755', 'answer: yes']) {
    expect(isDeepStrictEqual(parseYamlDocuments(trap, 'trap', '1.1'), parseYamlDocuments(trap, 'trap', '1.2'))).toBe(false);
  }
  expect(() => parseYamlDocuments('a: 1\na: 2\n', 'duplicate')).toThrow(/duplicate/);
});
