// Slack's message limits and the helpers that keep every message inside them. Slack rejects a payload with too many
// blocks or an over-long block (HTTP 400 invalid_blocks) and cuts `text` at 40,000 characters.
import type { MessageBlock, Notification, Priority } from './notifier.js';

export const SLACK_LIMITS = {
  textChars: 40_000,
  blocks: 50,
  sectionChars: 3_000,
  headerChars: 150,
  fieldChars: 2_000,
  fields: 10,
  contextElements: 10,
} as const;

export interface SlackPayload {
  text: string;
  blocks?: MessageBlock[];
}

export const PRIORITY_MARKERS: Record<Priority, string> = {
  critical: '🔴',
  high: '🟠',
  medium: '🟡',
  low: '🔵',
};

/** Slack mrkdwn control characters; escaping `<` also stops `<!channel>` mentions and links smuggled in data. */
export function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Cuts to at most `max` characters (by UTF-16 units, as Slack counts), ending with an ellipsis when cut. */
export function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  let cut = text.slice(0, Math.max(0, max - 1));
  // Do not leave half a surrogate pair (an emoji) at the end.
  if (/[\uD800-\uDBFF]$/.test(cut)) cut = cut.slice(0, -1);
  return `${cut}…`;
}

export function headerBlock(text: string): MessageBlock {
  return { type: 'header', text: { type: 'plain_text', text: truncate(text.replace(/\s+/g, ' ').trim() || '(untitled)', SLACK_LIMITS.headerChars), emoji: true } };
}

export function sectionBlock(mrkdwn: string): MessageBlock {
  return { type: 'section', text: { type: 'mrkdwn', text: truncate(mrkdwn, SLACK_LIMITS.sectionChars) } };
}

export function contextBlock(mrkdwn: string): MessageBlock {
  return { type: 'context', elements: [{ type: 'mrkdwn', text: truncate(mrkdwn, SLACK_LIMITS.sectionChars) }] };
}

export function fieldsBlock(fields: readonly string[]): MessageBlock {
  return {
    type: 'section',
    fields: fields.slice(0, SLACK_LIMITS.fields).map((text) => ({ type: 'mrkdwn', text: truncate(text, SLACK_LIMITS.fieldChars) })),
  };
}

/**
 * Packs lines into as few sections as possible, each within the section limit; a line longer than a section is
 * cut. Returns the sections and how many lines did not fit in `maxSections`.
 */
export function packLines(lines: readonly string[], maxSections: number): { blocks: MessageBlock[]; omitted: number } {
  const blocks: MessageBlock[] = [];
  let current = '';
  let used = 0;
  for (const raw of lines) {
    const line = truncate(raw, SLACK_LIMITS.sectionChars);
    const joined = current === '' ? line : `${current}\n${line}`;
    if (joined.length <= SLACK_LIMITS.sectionChars) {
      current = joined;
      used += 1;
      continue;
    }
    if (blocks.length + 1 >= maxSections) break;
    blocks.push(sectionBlock(current));
    current = line;
    used += 1;
  }
  if (current !== '' && blocks.length < maxSections) blocks.push(sectionBlock(current));
  else if (current !== '') used -= current.split('\n').length;
  return { blocks, omitted: lines.length - used };
}

/** Joins lines into text of at most `max` characters; what does not fit is replaced by "…and N more <noun>". */
export function joinWithin(lines: readonly string[], max: number, noun: string): string {
  const out: string[] = [];
  let length = 0;
  for (const [index, line] of lines.entries()) {
    const remaining = lines.length - index;
    const tail = `…and ${remaining} more ${noun}`;
    // Keep room for the tail line unless this is the last line.
    const needed = length + line.length + (remaining > 1 ? 1 + tail.length : 0);
    if (needed > max) {
      out.push(tail);
      return out.join('\n');
    }
    out.push(line);
    length += line.length + 1;
  }
  return out.join('\n');
}

/**
 * The payload for one notification, with notes (repeats suppressed, notifications dropped) added at the end.
 * Every block and the text are kept within Slack's limits whatever the formatter produced.
 */
export function notificationPayload(notification: Notification, notes: readonly string[] = []): SlackPayload {
  const noteText = notes.map((note) => `_${note}_`).join('\n');
  const text = truncate(
    [`*${escapeMrkdwn(notification.title)}*`, notification.text, noteText].filter((part) => part !== '').join('\n'),
    SLACK_LIMITS.textChars,
  );
  let blocks: MessageBlock[] = notification.blocks ? notification.blocks.map(withinLimits) : textBlocks(notification);
  const reserved = notes.length > 0 ? 1 : 0;
  if (blocks.length > SLACK_LIMITS.blocks - reserved) {
    const kept = blocks.slice(0, SLACK_LIMITS.blocks - reserved - 1);
    blocks = [...kept, contextBlock(`…and ${blocks.length - kept.length} more blocks (see the full text in the notification)`)];
  }
  if (notes.length > 0) blocks.push(contextBlock(noteText));
  return { text, blocks };
}

/**
 * A notification without blocks of its own: its title as the header, its text in sections. Lines that do not fit
 * are counted in a last line rather than dropped unseen (the end of an alert says where it came from and what to
 * check, and a reader must know it is missing).
 */
function textBlocks(notification: Notification): MessageBlock[] {
  // Header, the sections, the "more" line and the notes line.
  const packed = packLines(notification.text.split('\n'), SLACK_LIMITS.blocks - 3);
  const blocks = [headerBlock(notification.title), ...packed.blocks];
  if (packed.omitted > 0) blocks.push(contextBlock(`…and ${packed.omitted} more ${packed.omitted === 1 ? 'line' : 'lines'}`));
  return blocks;
}

/** Enforces per-block limits on blocks built elsewhere. */
function withinLimits(block: MessageBlock): MessageBlock {
  switch (block.type) {
    case 'header':
      return headerBlock(block.text.text);
    case 'section': {
      const out: MessageBlock = { type: 'section' };
      if (block.text) out.text = { type: 'mrkdwn', text: truncate(block.text.text, SLACK_LIMITS.sectionChars) };
      if (block.fields) {
        out.fields = block.fields
          .slice(0, SLACK_LIMITS.fields)
          .map((field) => ({ type: 'mrkdwn', text: truncate(field.text, SLACK_LIMITS.fieldChars) }));
      }
      return out;
    }
    case 'context':
      return {
        type: 'context',
        elements: block.elements
          .slice(0, SLACK_LIMITS.contextElements)
          .map((element) => ({ type: 'mrkdwn', text: truncate(element.text, SLACK_LIMITS.sectionChars) })),
      };
    case 'divider':
      return block;
  }
}
