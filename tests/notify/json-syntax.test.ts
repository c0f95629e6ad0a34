// The JSON fault locator agrees with JSON.parse on what is valid, and points at the first fault.
import fc from 'fast-check';
import { findJsonSyntaxError } from '../../src/notify/json-syntax.js';

test.each([
  ['{"a": 1,}', 1, 9, 'expected a "quoted" key, found "}"'],
  ['[1, 2', 1, 6, "expected ',' or ']', found end of input"],
  ['{"a" 1}', 1, 6, "expected ':' after the key, found \"1\""],
  ['{"a": "x\ny"}', 1, 9, 'control character inside a string (write it as an escape such as \\n)'],
  ['{\n  "a": tru\n}', 2, 8, 'expected a value, found "t"'],
  ['{} {}', 1, 4, 'unexpected "{" after the end of the JSON value'],
  ['"abc', 1, 1, 'string is never closed'],
  ['', 1, 1, 'expected a value, found end of input'],
  ["{'a': 1}", 1, 2, 'expected a "quoted" key, found "\'"'],
])('%j fails at line %i column %i', (text, line, column, message) => {
  expect(() => JSON.parse(text)).toThrow();
  expect(findJsonSyntaxError(text)).toEqual({ line, column, message });
});

test('valid JSON has no fault; any JSON.parse failure has one (property)', () => {
  fc.assert(
    fc.property(fc.json(), (text) => {
      expect(findJsonSyntaxError(text)).toBeNull();
    }),
  );
  fc.assert(
    fc.property(fc.json(), fc.nat(), fc.string({ maxLength: 3 }), (text, at, junk) => {
      const position = at % (text.length + 1);
      const mutated = text.slice(0, position) + junk + text.slice(position + 1);
      let valid = true;
      try {
        JSON.parse(mutated);
      } catch {
        valid = false;
      }
      expect(findJsonSyntaxError(mutated) === null).toBe(valid);
    }),
  );
});
