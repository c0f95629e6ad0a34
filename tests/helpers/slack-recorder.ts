// A local stand-in for Slack's incoming webhooks on 127.0.0.1: records every POST as Slack would receive it and
// answers as told — 200 "ok" by default, or scripted answers per webhook path: 429 + Retry-After, 500, 400, or
// no answer at all (hang).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { slackVerdict, type Violation } from './slack-limits.js';

export interface RecordedPost {
  path: string;
  /** When the whole body had arrived (ms since epoch). */
  atMs: number;
  headers: http.IncomingHttpHeaders;
  raw: string;
  /** The parsed JSON body ({ text, blocks }), or null when it was not JSON. */
  body: { text?: string; blocks?: unknown[] } | null;
  /** The status it was answered with, or 'hang'. */
  answer: number | 'hang';
  /** Strict mode: what Slack would have found wrong with it (empty when Slack accepts it). */
  violations: Violation[];
}

export type Answer =
  | { status: number; body?: string; retryAfter?: string }
  /** Never answers (the connection stays open until the recorder closes). */
  | 'hang';

const OK: Answer = { status: 200, body: 'ok' };

export class SlackRecorder {
  readonly posts: RecordedPost[] = [];
  private readonly scripted = new Map<string, Answer[]>();
  private readonly defaults = new Map<string, Answer>();
  private readonly waiters: (() => void)[] = [];

  private constructor(
    private readonly server: http.Server,
    readonly port: number,
    private readonly strict: boolean,
  ) {}

  /**
   * `strict`: unscripted posts are answered as Slack would after checking Block Kit's limits and the body's JSON
   * (tests/helpers/slack-limits.ts), and each post records what was wrong with it.
   */
  static async start(options: { strict?: boolean } = {}): Promise<SlackRecorder> {
    let recorder: SlackRecorder | null = null;
    const server = http.createServer((request, response) => recorder?.handle(request, response));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    recorder = new SlackRecorder(server, (server.address() as AddressInfo).port, options.strict ?? false);
    return recorder;
  }

  /** A webhook URL on this recorder; the path looks like Slack's and is the secret part. */
  url(path = '/services/T0RECORD/B0RECORD/s3cr3tW3bh00kT0k3n'): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  /** The next answers for `path`, in order; after them, the path's default (200 ok unless set). */
  script(path: string, ...answers: Answer[]): void {
    this.scripted.set(path, [...(this.scripted.get(path) ?? []), ...answers]);
  }

  /** What `path` answers once its script is used up. */
  setDefault(path: string, answer: Answer): void {
    this.defaults.set(path, answer);
  }

  postsTo(path: string): RecordedPost[] {
    return this.posts.filter((post) => post.path === path);
  }

  /** The posts answered with 2xx, to any path: what Slack would have shown. */
  accepted(): RecordedPost[] {
    return this.posts.filter(isAccepted);
  }

  /** The posts to `path` answered with 2xx: what Slack would have shown in the channel. */
  acceptedBy(path: string): RecordedPost[] {
    return this.postsTo(path).filter(isAccepted);
  }

  /** Resolves once at least `count` posts (to `path`, or anywhere) have arrived. */
  async waitForPosts(count: number, options: { path?: string; timeoutMs?: number } = {}): Promise<RecordedPost[]> {
    const matching = (): RecordedPost[] => (options.path ? this.postsTo(options.path) : this.posts);
    const deadline = Date.now() + (options.timeoutMs ?? 10_000);
    while (matching().length < count) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`expected ${count} posts${options.path ? ` to ${options.path}` : ''}, got ${matching().length}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return matching();
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(request: http.IncomingMessage, response: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const path = request.url ?? '/';
      let body: RecordedPost['body'] = null;
      try {
        body = JSON.parse(raw) as RecordedPost['body'];
      } catch {
        body = null;
      }
      const verdict = this.strict ? slackVerdict(raw) : null;
      const answer =
        this.scripted.get(path)?.shift() ??
        this.defaults.get(path) ??
        (verdict === null ? OK : { status: verdict.status, body: verdict.answer });
      const violations = verdict?.violations ?? [];
      this.posts.push({ path, atMs: Date.now(), headers: request.headers, raw, body, answer: answer === 'hang' ? 'hang' : answer.status, violations });
      for (const wake of this.waiters.splice(0)) wake();
      if (answer === 'hang') return;
      const headers: http.OutgoingHttpHeaders = { 'content-type': this.strict ? 'text/plain' : 'text/html' };
      if (answer.retryAfter !== undefined) headers['retry-after'] = answer.retryAfter;
      response.writeHead(answer.status, headers).end(answer.body ?? '');
    });
  }
}

function isAccepted(post: RecordedPost): boolean {
  return typeof post.answer === 'number' && post.answer >= 200 && post.answer < 300;
}
