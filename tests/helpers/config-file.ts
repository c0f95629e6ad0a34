// A configuration written as a YAML file in a test's directory and loaded the way `serve --config` loads it.
import fs from 'node:fs';
import path from 'node:path';
import { expect } from '@jest/globals';
import { loadConfig, type ResolvedConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors.js';

export function loadYamlConfig(dir: string, yaml: string, env: NodeJS.ProcessEnv = {}): ResolvedConfig {
  const file = path.join(dir, 'config.yaml');
  fs.writeFileSync(file, yaml);
  return loadConfig({ env, file, cwd: dir });
}

/** The ConfigError message that loading `yaml` ends with; fails the test when the file is accepted. */
export function configFailure(dir: string, yaml: string): string {
  try {
    loadYamlConfig(dir, yaml);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('accepted');
}
