// Low and medium priority notifications for one webhook are posted together, as one digest message per interval.
import type { MessageBlock, Notification } from './notifier.js';
import {
  PRIORITY_MARKERS,
  SLACK_LIMITS,
  contextBlock,
  escapeMrkdwn,
  headerBlock,
  sectionBlock,
  truncate,
  type SlackPayload,
} from './slack-format.js';

export interface DigestEntry {
  notification: Notification;
  /** Notes for this entry alone (e.g. how many repeats were suppressed). */
  notes: readonly string[];
}

/** Each entry's text is cut to this, so one long report cannot crowd the others out of the digest. */
const ENTRY_TEXT_CHARS = 1_500;

/**
 * One digest message from the oldest entries that fit within Slack's limits. `included` says how many entries it
 * holds; the caller keeps the rest for the next digest (the message says how many are waiting).
 */
export function buildDigest(entries: readonly DigestEntry[], notes: readonly string[] = []): { payload: SlackPayload; included: number } {
  // Header, the entries, and up to two context blocks at the end (the "more" line and the notes).
  const maxEntries = SLACK_LIMITS.blocks - 3;
  const blocks: MessageBlock[] = [];
  const textParts: string[] = [];
  // Leave room in `text` for the header line, the "more" line and the notes.
  let textBudget = SLACK_LIMITS.textChars - 1_000;
  let included = 0;
  for (const entry of entries) {
    if (included >= maxEntries) break;
    const section = entrySection(entry);
    if (section.length + 1 > textBudget && included > 0) break;
    blocks.push(sectionBlock(section));
    textParts.push(section);
    textBudget -= section.length + 1;
    included += 1;
  }
  const rest = entries.length - included;
  const title = `otlp-capture digest: ${included} notification${included === 1 ? '' : 's'}`;
  const trailer: string[] = [];
  if (rest > 0) trailer.push(`…and ${rest} more, in the next digest`);
  const noteText = notes.map((note) => `_${note}_`).join('\n');
  const all: MessageBlock[] = [headerBlock(title), ...blocks];
  if (trailer.length > 0) all.push(contextBlock(trailer.join('\n')));
  if (noteText !== '') all.push(contextBlock(noteText));
  const text = truncate([`*${title}*`, ...textParts, ...trailer, noteText].filter((part) => part !== '').join('\n'), SLACK_LIMITS.textChars);
  return { payload: { text, blocks: all }, included };
}

function entrySection(entry: DigestEntry): string {
  const { notification } = entry;
  const head = `${PRIORITY_MARKERS[notification.priority]} *${escapeMrkdwn(notification.title)}*  _${notification.priority} · ${notification.kind}_`;
  const notes = entry.notes.map((note) => `_${note}_`);
  const body = truncate(notification.text, ENTRY_TEXT_CHARS);
  return truncate([head, body, ...notes].filter((part) => part !== '').join('\n'), SLACK_LIMITS.sectionChars);
}
