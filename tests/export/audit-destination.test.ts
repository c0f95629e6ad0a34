import path from 'node:path';
import { parseDestination } from '../../src/export/destination.js';
import { InvalidArgumentError } from '../../src/errors.js';

it('refuses --to - (standard output) instead of exporting into a directory called "-"', () => {
  // Before: { kind: 'directory', dir: '<cwd>/-' }, and the export went there.
  expect(() => parseDestination('-', '/work')).toThrow(InvalidArgumentError);
  expect(() => parseDestination('-', '/work')).toThrow(/cannot go to standard output/);
  // A directory whose name merely starts with "-" is still a directory.
  expect(parseDestination('./-out', '/work')).toEqual({ kind: 'directory', dir: path.resolve('/work/-out') });
});
