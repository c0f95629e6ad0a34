// The index-scale results as a table: per query, in-process median and CLI wall median at each size, and the ratio
// of the largest size to the smallest (≤ 2 means the question does not grow with the table).
import type { SizeResult } from './index-scale.js';

const ms = (value: number): string => (value < 10 ? value.toFixed(1) : value.toFixed(0));

export function indexScaleTable(results: readonly SizeResult[]): string {
  const lines: string[] = [];
  for (const engine of [...new Set(results.map((r) => r.engine))]) {
    const sizes = results.filter((r) => r.engine === engine);
    const small = sizes[0]!;
    const large = sizes[sizes.length - 1]!;
    const insert = small.adapterInsert
      ? `insert through the adapter ${(small.adapterInsert.rowsPerSecond / 1000).toFixed(0)} k rows/s (${small.adapterInsert.rows / 1e6} M rows); bulk fill server-side `
      : 'fill through the adapter ';
    lines.push(`${engine}: ${insert}${sizes.map((s) => `${(s.fill.rowsPerSecond / 1000).toFixed(0)} k rows/s`).join(', ')}; disk ${sizes.map((s) => `${(s.diskMiB ?? 0).toFixed(0)} MiB`).join(' / ')}`);
    lines.push(
      `| query | ${sizes.map((s) => `${s.rows / 1e6} M in process ms`).join(' | ')} | ${sizes.map((s) => `${s.rows / 1e6} M CLI ms`).join(' | ')} | ratio ${large.rows / 1e6} M / ${small.rows / 1e6} M |`,
    );
    lines.push(`|---|${sizes.map(() => '---:').join('|')}|${sizes.map(() => '---:').join('|')}|---:|`);
    for (const [i, query] of small.queries.entries()) {
      const inProcess = sizes.map((s) => ms(s.queries[i]!.inProcess.medianMs));
      const cli = sizes.map((s) => (s.queries[i]!.cli ? ms(s.queries[i]!.cli!.medianMs) : '–'));
      const ratio = large.queries[i]!.inProcess.medianMs / Math.max(0.1, small.queries[i]!.inProcess.medianMs);
      lines.push(`| ${query.name} | ${inProcess.join(' | ')} | ${cli.join(' | ')} | ${ratio.toFixed(2)} |`);
    }
    lines.push('');
  }
  return lines.join('\n');
}
