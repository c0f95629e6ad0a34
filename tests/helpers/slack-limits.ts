// What Slack's incoming webhooks check before they accept a message, as a validator and a verdict that
// SlackRecorder's strict mode answers with: 400 `invalid_blocks` for a layout outside Block Kit's limits, 400
// `invalid_payload` for a body that is not valid JSON of well-formed Unicode, 400 `no_text` without text or blocks,
// 200 `ok` otherwise. Limits count characters (code points), as Slack does, not UTF-16 units or bytes.

export const LIMITS = {
  textChars: 40_000,
  blocks: 50,
  sectionChars: 3_000,
  fields: 10,
  fieldChars: 2_000,
  headerChars: 150,
  contextElements: 10,
  textObjectChars: 3_000,
} as const;

const chars = (text: string): number => [...text].length;

/** A UTF-16 string with an unpaired surrogate: JSON `\ud83d` that Slack's JSON decoder refuses. */
export function hasLoneSurrogate(text: string): boolean {
  return /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(text);
}

/**
 * `<…>` sequences Slack would turn into a link, a mention (`<!channel>`, `<@U…>`) or a channel reference: mrkdwn
 * that carries `<` or `>` unescaped. Our code never means to send any, so every one is a leak of raw text.
 */
export function unescapedAngles(mrkdwn: string): string[] {
  return mrkdwn.match(/<[^>\n]*>?|>/g) ?? [];
}

/** True when `test` holds for any string anywhere in a parsed JSON value. */
export function someString(value: unknown, test: (text: string) => boolean): boolean {
  if (typeof value === 'string') return test(value);
  if (Array.isArray(value)) return value.some((item) => someString(item, test));
  if (typeof value === 'object' && value !== null) return Object.values(value).some((item) => someString(item, test));
  return false;
}

export interface Violation {
  error: 'invalid_blocks' | 'invalid_payload' | 'no_text';
  where: string;
  detail: string;
}

/** Every way a parsed webhook body breaks Slack's rules; [] when Slack would accept it. */
export function slackViolations(body: unknown): Violation[] {
  const out: Violation[] = [];
  const blocksError = (where: string, detail: string): void => void out.push({ error: 'invalid_blocks', where, detail });
  if (typeof body !== 'object' || body === null) return [{ error: 'invalid_payload', where: '$', detail: 'not a JSON object' }];
  const { text, blocks } = body as { text?: unknown; blocks?: unknown };
  if (text !== undefined && typeof text !== 'string') out.push({ error: 'invalid_payload', where: 'text', detail: 'not a string' });
  if ((typeof text !== 'string' || text.trim() === '') && blocks === undefined) out.push({ error: 'no_text', where: 'text', detail: 'no text and no blocks' });
  if (typeof text === 'string' && chars(text) > LIMITS.textChars) out.push({ error: 'invalid_payload', where: 'text', detail: `${chars(text)} characters > ${LIMITS.textChars}` });
  if (blocks === undefined) return out;
  if (!Array.isArray(blocks) || blocks.length === 0) {
    blocksError('blocks', 'not a non-empty array');
    return out;
  }
  if (blocks.length > LIMITS.blocks) blocksError('blocks', `${blocks.length} blocks > ${LIMITS.blocks}`);
  blocks.forEach((block: unknown, index) => checkBlock(block, `blocks[${index}]`, blocksError));
  return out;
}

type Report = (where: string, detail: string) => void;

function checkText(object: unknown, where: string, max: number, report: Report, types: readonly string[]): void {
  const { type, text } = (object ?? {}) as { type?: unknown; text?: unknown };
  if (typeof type !== 'string' || !types.includes(type)) return report(where, `text object type ${String(type)} not one of ${types.join(', ')}`);
  if (typeof text !== 'string' || text.length === 0) return report(where, 'empty text');
  if (chars(text) > max) report(where, `${chars(text)} characters > ${max}`);
}

function checkBlock(block: unknown, where: string, report: Report): void {
  const { type, text, fields, elements } = (block ?? {}) as { type?: unknown; text?: unknown; fields?: unknown; elements?: unknown };
  switch (type) {
    case 'header':
      return checkText(text, `${where}.text`, LIMITS.headerChars, report, ['plain_text']);
    case 'section':
      if (text === undefined && fields === undefined) return report(where, 'section without text or fields');
      if (text !== undefined) checkText(text, `${where}.text`, LIMITS.sectionChars, report, ['mrkdwn', 'plain_text']);
      if (fields !== undefined) {
        if (!Array.isArray(fields) || fields.length === 0) return report(`${where}.fields`, 'not a non-empty array');
        if (fields.length > LIMITS.fields) report(`${where}.fields`, `${fields.length} fields > ${LIMITS.fields}`);
        fields.forEach((field: unknown, index) => checkText(field, `${where}.fields[${index}]`, LIMITS.fieldChars, report, ['mrkdwn', 'plain_text']));
      }
      return;
    case 'context':
      if (!Array.isArray(elements) || elements.length === 0) return report(`${where}.elements`, 'not a non-empty array');
      if (elements.length > LIMITS.contextElements) report(`${where}.elements`, `${elements.length} elements > ${LIMITS.contextElements}`);
      elements.forEach((element: unknown, index) => checkText(element, `${where}.elements[${index}]`, LIMITS.textObjectChars, report, ['mrkdwn', 'plain_text']));
      return;
    case 'divider':
      return;
    default:
      report(where, `unknown block type ${String(type)}`);
  }
}

/** Every mrkdwn string of a body (text, section text and fields, context elements), for escaping checks. */
export function mrkdwnStrings(body: { text?: string; blocks?: unknown[] }): string[] {
  const out: string[] = body.text ? [body.text] : [];
  for (const block of (body.blocks ?? []) as { type: string; text?: { type: string; text: string }; fields?: { text: string }[]; elements?: { text: string }[] }[]) {
    if (block.type === 'section') {
      if (block.text) out.push(block.text.text);
      for (const field of block.fields ?? []) out.push(field.text);
    }
    if (block.type === 'context') for (const element of block.elements ?? []) out.push(element.text);
  }
  return out;
}

/** What Slack answers to a posted body: 400 with the first problem's code, or 200 `ok`; and every problem found. */
export function slackVerdict(raw: string): { status: number; answer: string; violations: Violation[] } {
  let violations: Violation[];
  try {
    const body: unknown = JSON.parse(raw);
    violations = someString(body, hasLoneSurrogate)
      ? [{ error: 'invalid_payload', where: '$', detail: 'unpaired UTF-16 surrogate' }]
      : slackViolations(body);
  } catch {
    violations = [{ error: 'invalid_payload', where: '$', detail: 'not JSON' }];
  }
  // Slack answers with the first problem it finds, as a plain-text error code.
  const answer = violations[0]?.error ?? 'ok';
  return { status: answer === 'ok' ? 200 : 400, answer, violations };
}
