// The request selection that `list` and `replay` share: --signal, --service, --tenant, --since, --until.
import { isSignal } from '../model.js';
import { parseTime, timeHint } from '../config/units.js';
import type { SelectionFilter } from '../replay/selection.js';
import { tenantOption } from './common.js';
import { UsageError } from './exit.js';

export interface SelectionOptions {
  signal?: string;
  service?: string;
  tenant?: string;
  since?: string;
  until?: string;
}

/** The filter the options ask for; UsageError for a value that is not one. */
export function selectionFilter(options: SelectionOptions): SelectionFilter {
  const filter: SelectionFilter = {};
  if (options.signal !== undefined) {
    if (!isSignal(options.signal)) throw new UsageError(`--signal must be traces, metrics or logs, not ${JSON.stringify(options.signal)}`);
    filter.signal = options.signal;
  }
  if (options.service !== undefined) filter.service = options.service;
  const tenant = tenantOption(options.tenant);
  if (tenant !== undefined) filter.tenant = tenant;
  for (const key of ['since', 'until'] as const) {
    const text = options[key];
    if (text === undefined) continue;
    const ns = parseTime(text);
    if (ns === null) {
      throw new UsageError(
        `--${key} must be a time such as 2024-05-01T12:00:00Z, or a duration such as 15m or 1h30m for that long ago, not ${JSON.stringify(text)}${timeHint(text)}`,
      );
    }
    if (key === 'since') filter.sinceNs = ns;
    else filter.untilNs = ns;
  }
  // Swapped bounds (`--since 2h --until 3h`) select nothing; a script would take the empty answer for "no data".
  if (filter.sinceNs !== undefined && filter.untilNs !== undefined && filter.sinceNs > filter.untilNs) {
    throw new UsageError(
      `--since ${JSON.stringify(options.since)} is later than --until ${JSON.stringify(options.until)}: nothing can match (durations count back from now, so --since is the longer one)`,
    );
  }
  return filter;
}
