// Where a JSON text first goes wrong, by line and column. Node 20's JSON.parse messages often give no position
// ("Unexpected token ',', ..."a": ,}" is not valid JSON"), and people fixing a file by hand need one.

export interface JsonSyntaxError {
  line: number;
  column: number;
  message: string;
}

class Stop extends Error {
  constructor(readonly offset: number, message: string) {
    super(message);
  }
}

/** Null when the text is valid JSON; otherwise the first fault. */
export function findJsonSyntaxError(text: string): JsonSyntaxError | null {
  let i = 0;
  const ws = (): void => {
    while (i < text.length && ' \t\n\r'.includes(text[i] as string)) i++;
  };
  const show = (at: number): string => (at >= text.length ? 'end of input' : JSON.stringify(text[at]));
  const expect = (what: string): never => {
    throw new Stop(i, `expected ${what}, found ${show(i)}`);
  };
  const literal = (word: string): void => {
    if (text.startsWith(word, i)) i += word.length;
    else expect('a value');
  };
  const string = (): void => {
    const start = i;
    i++;
    while (i < text.length && text[i] !== '"') {
      const c = text.charCodeAt(i);
      if (c < 0x20) throw new Stop(i, 'control character inside a string (write it as an escape such as \\n)');
      if (text[i] === '\\') {
        const escape = text[i + 1];
        if (escape === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) throw new Stop(i, 'invalid \\u escape');
          i += 6;
          continue;
        }
        if (escape === undefined || !'"\\/bfnrt'.includes(escape)) throw new Stop(i, 'invalid escape in a string');
        i += 2;
        continue;
      }
      i++;
    }
    if (i >= text.length) throw new Stop(start, 'string is never closed');
    i++;
  };
  const number = (): void => {
    const match = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i));
    if (!match) expect('a value');
    i += (match as RegExpExecArray)[0].length;
  };
  const value = (depth: number): void => {
    if (depth > 1000) throw new Stop(i, 'nested too deeply');
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      ws();
      if (text[i] === '}') return void i++;
      for (;;) {
        ws();
        if (text[i] !== '"') expect('a "quoted" key');
        string();
        ws();
        if (text[i] !== ':') expect("':' after the key");
        i++;
        value(depth + 1);
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === '}') return void i++;
        expect("',' or '}'");
      }
    }
    if (c === '[') {
      i++;
      ws();
      if (text[i] === ']') return void i++;
      for (;;) {
        value(depth + 1);
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === ']') return void i++;
        expect("',' or ']'");
      }
    }
    if (c === '"') return string();
    if (c === 't') return literal('true');
    if (c === 'f') return literal('false');
    if (c === 'n') return literal('null');
    return number();
  };
  try {
    // A byte order mark is not JSON, but editors write one; JSON.parse rejects it too, so say so plainly.
    if (text.charCodeAt(0) === 0xfeff) throw new Stop(0, 'starts with a byte order mark (save the file as UTF-8 without BOM)');
    value(0);
    ws();
    if (i < text.length) throw new Stop(i, `unexpected ${show(i)} after the end of the JSON value`);
    return null;
  } catch (error) {
    if (!(error instanceof Stop)) throw error;
    const before = text.slice(0, error.offset);
    return { line: before.split('\n').length, column: error.offset - before.lastIndexOf('\n'), message: error.message };
  }
}
