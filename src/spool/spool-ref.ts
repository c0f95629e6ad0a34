import type { RequestMeta } from '../model.js';

/** Where a spooled request is: its whole framed record (not just the payload) within one segment file. */
export interface SpoolRef {
  segment: number;
  offset: number;
  length: number;
  meta: RequestMeta;
}
