// A Dockerfile read line by line (continuations joined, comments dropped) into stages of instructions, and
// .dockerignore patterns evaluated as Docker does (last matching pattern wins; a pattern matching a parent
// directory matches everything under it).
export interface Instruction {
  keyword: string;
  args: string;
  line: number;
}

export interface Stage {
  /** The image or stage it starts from. */
  from: string;
  name: string | undefined;
  instructions: Instruction[];
}

export function parseDockerfile(text: string): Stage[] {
  const instructions: Instruction[] = [];
  let pending = '';
  let startLine = 0;
  text.split('\n').forEach((raw, index) => {
    const line = raw.trimEnd();
    if (pending === '' && (line.trim() === '' || line.trimStart().startsWith('#'))) return;
    // Comment lines inside a continued instruction are dropped too, as Docker does.
    if (pending !== '' && line.trimStart().startsWith('#')) return;
    if (pending === '') startLine = index + 1;
    const continued = line.endsWith('\\');
    pending += `${continued ? line.slice(0, -1) : line} `;
    if (continued) return;
    const match = /^\s*([A-Za-z]+)\s+([\s\S]*?)\s*$/.exec(pending);
    if (!match) throw new Error(`Dockerfile line ${startLine}: cannot read "${pending.trim()}"`);
    instructions.push({ keyword: (match[1] as string).toUpperCase(), args: (match[2] as string).replace(/\s+/g, ' '), line: startLine });
    pending = '';
  });
  if (pending !== '') throw new Error('Dockerfile ends inside a continued line');

  const stages: Stage[] = [];
  for (const instruction of instructions) {
    if (instruction.keyword === 'FROM') {
      const [from, as, name] = instruction.args.split(' ');
      stages.push({ from: from as string, name: as?.toUpperCase() === 'AS' ? name : undefined, instructions: [] });
    } else if (instruction.keyword !== 'ARG' || stages.length > 0) {
      const stage = stages[stages.length - 1];
      if (!stage) throw new Error(`Dockerfile line ${instruction.line}: ${instruction.keyword} before the first FROM`);
      stage.instructions.push(instruction);
    }
  }
  return stages;
}

/** The JSON (exec form) arguments of CMD, ENTRYPOINT or HEALTHCHECK … CMD, or undefined for the shell form. */
export function execForm(args: string): string[] | undefined {
  const json = args.slice(args.indexOf('['));
  try {
    const parsed: unknown = JSON.parse(json);
    return Array.isArray(parsed) && parsed.every((item) => typeof item === 'string') ? parsed : undefined;
  } catch {
    return undefined;
  }
}

interface IgnorePattern {
  negate: boolean;
  regex: RegExp;
}

function patternRegex(pattern: string): RegExp {
  const clean = pattern.replace(/^\/+/, '').replace(/\/+$/, '');
  let source = '';
  for (let i = 0; i < clean.length; i++) {
    const char = clean[i] as string;
    if (clean.startsWith('**/', i)) {
      source += '(?:.*/)?';
      i += 2;
    } else if (clean.startsWith('**', i)) {
      source += '.*';
      i += 1;
    } else if (char === '*') source += '[^/]*';
    else if (char === '?') source += '[^/]';
    else source += char.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${source}$`);
}

export function parseDockerignore(text: string): IgnorePattern[] {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => (line.startsWith('!') ? { negate: true, regex: patternRegex(line.slice(1)) } : { negate: false, regex: patternRegex(line) }));
}

/** Whether a repository-relative file is left out of the build context. */
export function isIgnored(file: string, patterns: readonly IgnorePattern[]): boolean {
  const parts = file.split('/');
  const prefixes = parts.map((_, i) => parts.slice(0, i + 1).join('/'));
  let ignored = false;
  for (const { negate, regex } of patterns) {
    if (prefixes.some((prefix) => regex.test(prefix))) ignored = !negate;
  }
  return ignored;
}
