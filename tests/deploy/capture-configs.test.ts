// Every otlp-capture configuration under deploy/ — a file, or a ConfigMap entry — loads with the real loader on
// its own (no environment), so none carries a typo, an unknown key or a value the schema refuses. (compose.test.ts
// and kubernetes.test.ts load them again with each container's environment and check them against the manifests.)
import { loadConfigText } from './capture-config.js';
import { isTree, parseYamlDocuments, readYamlDocuments, yamlFilesUnder } from './repo-yaml.js';

/** A YAML text is an otlp-capture configuration when it says where its data lives. */
function captureConfigs(): { where: string; text: string }[] {
  return yamlFilesUnder('deploy').flatMap((file) =>
    readYamlDocuments(file).flatMap((document, index) => {
      if (isTree(document) && 'dataDir' in document) return [{ where: file, text: JSON.stringify(document) }];
      if (!isTree(document) || document.kind !== 'ConfigMap' || !isTree(document.data)) return [];
      return Object.entries(document.data)
        .filter(([, text]) => typeof text === 'string' && /^dataDir:/m.test(text))
        .map(([key, text]) => ({ where: `${file} document ${index + 1} data.${key}`, text: text as string }));
    }),
  );
}

const CONFIGS = captureConfigs();

test('finds the image default, the compose configuration and both Kubernetes ConfigMaps', () => {
  expect(CONFIGS.map((config) => config.where.split(' ')[0])).toEqual([
    'deploy/compose/otlp-capture.yaml',
    'deploy/kubernetes/configmap.yaml',
    'deploy/kubernetes/sidecar/configmap.yaml',
    'deploy/otlp-capture.yaml',
  ]);
});

describe.each(CONFIGS.map((config) => [config.where, config.text] as const))('%s', (_where, text) => {
  test('loads, with its data under an absolute directory and a grace period to drain', () => {
    const config = loadConfigText(text, {});
    expect(config.dataDir).toBe('/var/lib/otlp-capture');
    expect(config.shutdown.gracePeriod).toBeGreaterThan(0);
  });

  test('is refused once a key is misspelt (the loader is strict, so the check above means something)', () => {
    const document = parseYamlDocuments(text, 'config')[0] as Record<string, unknown>;
    expect(() => loadConfigText(JSON.stringify({ ...document, shutdwon: { gracePeriod: '1s' } }), {})).toThrow(/shutdwon/);
  });
});
