// otlpcapture_tls_certificate_expiry_timestamp_seconds for one listener: call once per listener that serves TLS.
// Read at each scrape from the files the listener uses now, so a rotated certificate shows its new expiry.
import type { Metrics } from './metrics.js';

export interface CertificateExpirySource {
  certificateExpiry(): readonly { file: string; notAfterMs: number }[];
}

export function exportCertificateExpiry(metrics: Metrics, listener: string, source: CertificateExpirySource): void {
  metrics.onScrape(() => {
    for (const { file, notAfterMs } of source.certificateExpiry()) {
      metrics.tlsCertificateExpiry.set({ listener, file }, notAfterMs / 1000);
    }
  });
}
