// The read commands, as a user runs them.
import type { RequestView } from '../../src/query/request-view.js';
import { runCli } from './server-process.js';

export async function listJson(dataDir: string, ...args: string[]): Promise<RequestView[]> {
  const result = await runCli(['list', '--data-dir', dataDir, '--json', '--limit', '100000', ...args]);
  if (result.code !== 0) throw new Error(`list failed (${result.code}): ${result.stderr}`);
  const text = result.stdout.toString('utf8').trim();
  return text === '' ? [] : text.split('\n').map((line) => JSON.parse(line) as RequestView);
}

export async function getBytes(dataDir: string, id: string, format: 'proto' | 'json' = 'proto'): Promise<Buffer> {
  const result = await runCli(['get', id, '--data-dir', dataDir, '--format', format]);
  if (result.code !== 0) throw new Error(`get failed (${result.code}): ${result.stderr}`);
  return result.stdout;
}

/**
 * At least `count` rows listed and every one of them read from the archive: `list` shows a request from the server's
 * hot tier (the spool, codec none, no object) as soon as it is acknowledged, before the archiver has stored it.
 */
export function allArchived(rows: readonly RequestView[], count: number): boolean {
  return rows.length >= count && rows.every((row) => row.tier === 'archive');
}
