// The agent a customer device runs: it makes its Ed25519 key (kept in a file of mode 0600),
// enrols with the operator's one-time code, opens a session with the provider it chose, renews
// the token before it expires, and says what it used. Every request after enrolment is signed
// (./crypto.ts signRequest). A broker that does not answer (a daemon restart) is retried with
// back-off; the session goes on with the next renewal, or a new one is opened when the broker
// says the old one is gone.
import { generateKeyPairSync, createPrivateKey, randomBytes, type KeyObject } from 'node:crypto';
import { request as httpRequest, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { rawPublicKey, signRequest } from './crypto.js';

export const AGENT_KEY_FILE = 'key.pem';
export const AGENT_STATE_FILE = 'agent.json';

export interface AgentSession {
  id: string;
  provider: string;
  token: string;
  issuedAt: number;
  expiresAt: number;
}

export interface AgentState {
  /** the broker's API: http(s)://HOST:PORT or unix:/path */
  broker: string;
  name: string;
  /** the broker's key id, as it was at enrolment */
  brokerKid: string;
  session?: AgentSession;
}

/** An answer of the broker that was not a success, or no answer at all (status 0). */
export class DeviceError extends Error {
  override readonly name = 'DeviceError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
  /** the broker was not reached or failed: worth retrying the same thing */
  get transient(): boolean {
    return this.status === 0 || this.status >= 500;
  }
}

interface HttpAnswer {
  status: number;
  json: any;
}

/** One HTTP request to the broker, over TCP or a Unix socket. */
function send(base: string, method: string, path: string, headers: Record<string, string>, body: string | undefined, timeoutMs = 15_000): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const h: Record<string, string | number> = { accept: 'application/json', ...headers };
    if (body !== undefined) {
      h['content-type'] = 'application/json';
      h['content-length'] = Buffer.byteLength(body);
    }
    let opts: RequestOptions;
    let req: typeof httpRequest = httpRequest;
    if (base.startsWith('unix:')) opts = { socketPath: base.slice(5), path, method, headers: h, agent: false };
    else {
      const u = new URL(base);
      if (u.protocol === 'https:') req = httpsRequest;
      else if (u.protocol !== 'http:') return reject(new DeviceError(0, 'bad_url', `the broker URL ${base} is not http(s):// or unix:`));
      opts = { host: u.hostname.replace(/^\[|\]$/g, ''), port: u.port ? Number(u.port) : u.protocol === 'https:' ? 443 : 80, path, method, headers: h, agent: false };
    }
    const r = req(opts, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: any = {};
        try {
          json = text ? JSON.parse(text) : {};
        } catch {
          json = { raw: text };
        }
        resolve({ status: res.statusCode ?? 0, json });
      });
      res.on('error', (err) => reject(new DeviceError(0, 'unreachable', err.message)));
    });
    r.setTimeout(timeoutMs, () => r.destroy(new Error(`timed out after ${timeoutMs} ms`)));
    r.on('error', (err: NodeJS.ErrnoException) => reject(new DeviceError(0, 'unreachable', `cannot reach the broker at ${base}: ${err.code ?? err.message}`)));
    r.end(body);
  });
}

function check(a: HttpAnswer): any {
  if (a.status >= 200 && a.status < 300) return a.json;
  const e = a.json?.error;
  throw new DeviceError(a.status, typeof e?.code === 'string' ? e.code : `http_${a.status}`, typeof e?.message === 'string' ? e.message : `HTTP ${a.status}`);
}

/** Writes a file atomically with mode 0600 (the state holds the session token). */
function writePrivate(path: string, text: string): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, text, { mode: 0o600 });
  renameSync(tmp, path);
}

export interface RunOptions {
  provider: string;
  traffic?: string[];
  signal?: AbortSignal;
  /** told of each step (opened, renewed, retrying...) */
  onEvent?(e: { type: 'opened' | 'renewed' | 'retry' | 'reopen' | 'stopped'; detail?: string; session?: string; delayMs?: number }): void;
  /** back-off bounds (ms) */
  minBackoffMs?: number;
  maxBackoffMs?: number;
}

export class Agent {
  private constructor(
    readonly dir: string,
    private readonly key: KeyObject,
    private st: AgentState,
  ) {}

  get state(): Readonly<AgentState> {
    return this.st;
  }

  /** Makes a key (or keeps the one in `dir`), enrols with the code, and saves the state. */
  static async enrol(dir: string, broker: string, code: string): Promise<Agent> {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const keyPath = join(dir, AGENT_KEY_FILE);
    let key: KeyObject;
    try {
      key = createPrivateKey(readFileSync(keyPath, 'utf8'));
      chmodSync(keyPath, 0o600);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      key = generateKeyPairSync('ed25519').privateKey;
      writePrivate(keyPath, key.export({ format: 'pem', type: 'pkcs8' }) as string);
    }
    const body = JSON.stringify({ code, publicKey: rawPublicKey(key) });
    const r = check(await send(broker, 'POST', '/v1/broker/device/enrol', {}, body));
    const agent = new Agent(dir, key, { broker, name: r.cpe.name, brokerKid: r.broker.kid });
    agent.save();
    return agent;
  }

  static load(dir: string): Agent {
    let st: AgentState;
    try {
      st = JSON.parse(readFileSync(join(dir, AGENT_STATE_FILE), 'utf8')) as AgentState;
    } catch (err) {
      throw new Error(`no enrolled agent in ${dir} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}): run \`fecflow agent enrol\` first`);
    }
    const key = createPrivateKey(readFileSync(join(dir, AGENT_KEY_FILE), 'utf8'));
    return new Agent(dir, key, st);
  }

  private save(): void {
    writePrivate(join(this.dir, AGENT_STATE_FILE), JSON.stringify(this.st, null, 2) + '\n');
  }

  /** A request signed with the device's key. */
  async signed(method: string, path: string, body?: unknown): Promise<any> {
    const text = body === undefined ? '' : JSON.stringify(body);
    const headers = signRequest(this.key, this.st.name, method, path, text, Date.now(), randomBytes(18).toString('base64url'));
    return check(await send(this.st.broker, method, path, headers, body === undefined ? undefined : text));
  }

  private keep(r: { session: { id: string; provider: string }; token: string; expiresAt: string }): AgentSession {
    const s = { id: r.session.id, provider: r.session.provider, token: r.token, issuedAt: Date.now(), expiresAt: Date.parse(r.expiresAt) };
    this.st = { ...this.st, session: s };
    this.save();
    return s;
  }

  async open(provider: string, traffic?: string[]): Promise<AgentSession> {
    return this.keep(await this.signed('POST', '/v1/broker/device/sessions', traffic ? { provider, traffic } : { provider }));
  }

  async renew(): Promise<AgentSession> {
    const s = this.st.session;
    if (!s) throw new DeviceError(404, 'no_session', 'no session to renew');
    return this.keep(await this.signed('POST', `/v1/broker/device/sessions/${encodeURIComponent(s.id)}/renew`, { token: s.token }));
  }

  async close(): Promise<void> {
    const s = this.st.session;
    if (!s) return;
    await this.signed('POST', `/v1/broker/device/sessions/${encodeURIComponent(s.id)}/close`, {});
    this.forget();
  }

  private forget(): void {
    const { session: _s, ...rest } = this.st;
    this.st = rest;
    this.save();
  }

  /** The device's sessions and their usage, as the broker has them. */
  async status(): Promise<any> {
    return this.signed('GET', '/v1/broker/device/sessions');
  }

  /** When the current token should be renewed: two thirds into its life. */
  renewAt(s: AgentSession): number {
    return s.issuedAt + Math.floor(((s.expiresAt - s.issuedAt) * 2) / 3);
  }

  /** Keeps a session with `provider` open until the signal aborts. */
  async run(o: RunOptions): Promise<void> {
    const minB = o.minBackoffMs ?? 1000;
    const maxB = o.maxBackoffMs ?? 30_000;
    let backoff = minB;
    const ev = o.onEvent ?? (() => undefined);
    while (!o.signal?.aborted) {
      let wait: number;
      try {
        const s = this.st.session;
        if (!s || s.provider !== o.provider) {
          if (s) await this.close().catch(() => this.forget());
          const n = await this.open(o.provider, o.traffic);
          ev({ type: 'opened', session: n.id });
        } else if (Date.now() >= this.renewAt(s)) {
          const n = await this.renew();
          ev({ type: 'renewed', session: n.id });
        }
        backoff = minB;
        wait = Math.max(50, this.renewAt(this.st.session!) - Date.now());
      } catch (err) {
        const e = err instanceof DeviceError ? err : new DeviceError(0, 'error', (err as Error).message);
        if (e.code === 'revoked') {
          ev({ type: 'stopped', detail: e.message });
          throw e;
        }
        if (!e.transient && this.st.session && ['closed', 'not_found', 'expired_token', 'replayed_token', 'bad_token', 'wrong_provider'].includes(e.code)) {
          // the broker ended this session (expired while it was away, closed, revoked): a new one
          this.forget();
          ev({ type: 'reopen', detail: e.message });
          wait = 0;
        } else {
          wait = Math.min(maxB, backoff) * (0.75 + Math.random() * 0.5);
          backoff = Math.min(maxB, backoff * 2);
          ev({ type: 'retry', detail: e.message, delayMs: Math.round(wait) });
        }
      }
      await sleep(wait, o.signal);
    }
    ev({ type: 'stopped' });
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
