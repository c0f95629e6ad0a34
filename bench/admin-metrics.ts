// A few numbers from the capture server's Prometheus endpoint, taken at the end of a measurement window.

export interface ServerCounters {
  /** Spool bytes on disk: accepted, not yet archived (the archiver's backlog). */
  spoolBytes: number;
  /** Spooled bytes the archiver has not read yet (otlpcapture_spool_unread_bytes). */
  spoolUnreadBytes: number;
  fsyncs: number;
  objectsArchived: number;
  requestsReceived: number;
  /** Refusals by reason. */
  rejections: Record<string, number>;
}

export async function scrapeCounters(adminPort: number): Promise<ServerCounters | null> {
  let text: string;
  try {
    const response = await fetch(`http://127.0.0.1:${adminPort}/metrics`, { signal: AbortSignal.timeout(5000) });
    text = await response.text();
  } catch {
    return null;
  }
  const rejections: Record<string, number> = {};
  for (const match of text.matchAll(/^otlpcapture_requests_rejected_total\{([^}]*)\} (\S+)$/gm)) {
    const reason = /reason="([^"]*)"/.exec(match[1]!)?.[1] ?? 'unknown';
    rejections[reason] = (rejections[reason] ?? 0) + Number(match[2]);
  }
  return {
    spoolBytes: sum(text, 'otlpcapture_spool_bytes'),
    spoolUnreadBytes: sum(text, 'otlpcapture_spool_unread_bytes'),
    fsyncs: sum(text, 'otlpcapture_spool_fsyncs'),
    objectsArchived: sum(text, 'otlpcapture_objects_archived_total'),
    requestsReceived: sum(text, 'otlpcapture_requests_received_total'),
    rejections,
  };
}

/** Sum of every series of a metric (all label sets). */
function sum(text: string, name: string): number {
  let total = 0;
  for (const match of text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'gm'))) total += Number(match[1]);
  return total;
}
