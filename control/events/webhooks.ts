// Sends what each webhook is owed (control/registry/events.ts keeps the outbox): one worker per
// webhook posts its events in order, each signed with HMAC-SHA256 over "<timestamp>.<body>",
// and removes an event from the outbox only after the receiver answered 2xx. A failure (refused,
// timed out, non-2xx) keeps the event at the head and retries it with exponential back-off; a
// restarted daemon resumes from the outbox. The event id is the same in every attempt, so a
// receiver that saw a delivery whose answer got lost de-duplicates by it.
import { createHmac } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Logger } from '../log.js';
import type { EventLog, StoredEvent, WebhookStore, WebhookTarget } from '../registry/events.js';

export interface WebhookOptions {
  /** first retry after this long (doubling per attempt) */
  retryMinMs: number;
  /** longest wait between attempts */
  retryMaxMs: number;
  /** an attempt that takes longer has failed */
  timeoutMs: number;
}

export const DEFAULT_WEBHOOK_OPTIONS: WebhookOptions = { retryMinMs: 1000, retryMaxMs: 5 * 60_000, timeoutMs: 10_000 };

export const SIGNATURE_HEADER = 'x-fecflow-signature';

/** The signature header's value for a body sent at unix time `t`. */
export function signature(secret: string, t: number, body: string): string {
  return `t=${t},v1=${createHmac('sha256', secret).update(`${t}.${body}`).digest('hex')}`;
}

/** The wait before attempt number `attempts + 1` (attempts made so far). */
export function backoff(attempts: number, o: Pick<WebhookOptions, 'retryMinMs' | 'retryMaxMs'>): number {
  return Math.min(o.retryMaxMs, o.retryMinMs * 2 ** Math.min(attempts, 30));
}

/** The JSON a webhook receives for an event. */
export function eventBody(e: StoredEvent): string {
  return JSON.stringify({ id: e.id, seq: e.seq, type: e.type, at: e.at, isp: e.isp, subject: e.subject, data: e.data });
}

class Worker {
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private kick = false;
  stopped = false;

  constructor(
    readonly target: WebhookTarget,
    private readonly sender: WebhookSender,
  ) {}

  /** Look at the outbox again (new events, or a retry is due). */
  wake(): void {
    if (this.stopped) return;
    if (this.running) {
      this.kick = true;
      return;
    }
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    this.running = true;
    void this.drain()
      .catch((err) => {
        // the registry refused (a full disk): look again later rather than lose the worker
        this.sender.log.error({ webhook: this.target.name, error: String((err as Error).message ?? err) }, 'webhook outbox unreadable; retrying');
        if (!this.stopped) this.timer = setTimeout(() => this.wake(), this.sender.options.retryMaxMs);
      })
      .finally(() => {
        this.running = false;
        if (this.kick && !this.stopped) {
          this.kick = false;
          this.wake();
        }
      });
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  private async drain(): Promise<void> {
    const store = this.sender.store;
    while (!this.stopped) {
      const owed = store.head(this.target.id);
      if (!owed) return;
      const wait = owed.nextAt - Date.now();
      if (wait > 0) {
        this.timer = setTimeout(() => {
          this.timer = undefined;
          this.wake();
        }, wait);
        return;
      }
      const err = await this.sender.post(this.target, owed.event);
      if (this.stopped) return;
      if (err === undefined) store.delivered(this.target.id, owed.event.seq);
      else {
        const next = Date.now() + backoff(owed.attempts, this.sender.options);
        store.failed(this.target.id, owed.event.seq, err, next);
        this.sender.log.warn({ webhook: this.target.name, event: owed.event.id, attempts: owed.attempts + 1, error: err }, 'webhook delivery failed; retrying later');
      }
    }
  }
}

export class WebhookSender {
  private readonly workers = new Map<number, Worker>();
  private unsubscribe: (() => void) | undefined;
  private readonly inflight = new Set<ReturnType<typeof httpRequest>>();
  readonly options: WebhookOptions;

  constructor(
    readonly store: WebhookStore,
    private readonly events: EventLog,
    readonly log: Logger,
    options: Partial<WebhookOptions> = {},
  ) {
    this.options = { ...DEFAULT_WEBHOOK_OPTIONS, ...options };
  }

  start(): void {
    this.unsubscribe = this.events.onAppend(() => this.refresh());
    this.refresh();
  }

  /** Picks up added and removed webhooks and wakes every worker. */
  refresh(): void {
    const targets = new Map(this.store.targets().map((t) => [t.id, t]));
    for (const [id, w] of this.workers) {
      const t = targets.get(id);
      if (!t || t.url !== w.target.url || t.secret !== w.target.secret) {
        w.stop();
        this.workers.delete(id);
      }
    }
    for (const [id, t] of targets) if (!this.workers.has(id)) this.workers.set(id, new Worker(t, this));
    for (const w of this.workers.values()) w.wake();
  }

  stop(): void {
    this.unsubscribe?.();
    for (const w of this.workers.values()) w.stop();
    this.workers.clear();
    for (const r of this.inflight) r.destroy();
  }

  /** One delivery attempt: undefined when the receiver took it (2xx), else why not. */
  post(target: WebhookTarget, e: StoredEvent): Promise<string | undefined> {
    const body = eventBody(e);
    const t = Math.floor(Date.now() / 1000);
    const url = new URL(target.url);
    const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise((resolve) => {
      const req = request(
        url,
        {
          method: 'POST',
          agent: false,
          headers: {
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
            'user-agent': 'fecflow-webhook',
            'x-fecflow-event': e.type,
            'x-fecflow-event-id': e.id,
            [SIGNATURE_HEADER]: signature(target.secret, t, body),
          },
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode !== undefined && res.statusCode >= 200 && res.statusCode < 300 ? undefined : `HTTP ${res.statusCode}`));
          res.on('error', (err) => resolve(err.message));
        },
      );
      this.inflight.add(req);
      req.on('close', () => this.inflight.delete(req));
      req.setTimeout(this.options.timeoutMs, () => req.destroy(new Error(`no answer within ${this.options.timeoutMs} ms`)));
      req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ? `${err.code}: ${err.message}` : err.message));
      req.end(body);
    });
  }
}
