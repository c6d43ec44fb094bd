// The CLI's client of the daemon's API: over a Unix socket or HTTP, with the bearer token from
// --token, FECFLOW_TOKEN, --token-file/FECFLOW_TOKEN_FILE or the default token file. Every
// failure becomes a CliError whose one line says what to do.
import { request } from 'node:http';
import { readFileSync } from 'node:fs';
import { CliError } from './errors.js';

export const DEFAULT_URL = 'http://127.0.0.1:9180';
export const DEFAULT_TOKEN_FILE = '/var/lib/fecflow/token';

export interface ClientOptions {
  url?: string;
  socket?: string;
  token?: string;
  tokenFile?: string;
}

export interface ApiIssue {
  path: string;
  message: string;
}

export interface ApiClient {
  readonly where: string;
  get<T = any>(path: string): Promise<T>;
  send<T = any>(method: string, path: string, body?: unknown, onUpload?: (sent: number, total: number) => void): Promise<T>;
}

export function resolveClientOptions(o: ClientOptions, env: NodeJS.ProcessEnv): Required<Pick<ClientOptions, 'url'>> & ClientOptions {
  let url = o.url ?? env.FECFLOW_URL ?? DEFAULT_URL;
  let socket = o.socket;
  if (!socket && url.startsWith('unix:')) {
    socket = url.slice(5);
  }
  if (socket) url = `unix:${socket}`;
  return { url, socket, token: o.token ?? env.FECFLOW_TOKEN, tokenFile: o.tokenFile ?? env.FECFLOW_TOKEN_FILE };
}

export function createClient(opts: ClientOptions, env: NodeJS.ProcessEnv = process.env): ApiClient {
  const r = resolveClientOptions(opts, env);
  let base: URL | undefined;
  if (!r.socket) {
    try {
      base = new URL(r.url);
    } catch {
      throw new CliError(`invalid daemon URL '${r.url}': use http://HOST:PORT or unix:/path/to.sock`, 2);
    }
  }
  const where = r.socket ? `unix:${r.socket}` : base!.origin;
  let token = r.token;
  const tokenFor = (): string | undefined => {
    if (token !== undefined) return token;
    const file = r.tokenFile ?? DEFAULT_TOKEN_FILE;
    try {
      token = readFileSync(file, 'utf8').trim();
    } catch (err) {
      if (r.tokenFile) throw new CliError(`cannot read the token file ${file}: ${(err as NodeJS.ErrnoException).code ?? err}`);
      token = '';
    }
    return token;
  };

  const call = <T>(method: string, path: string, body: unknown, auth: boolean, onUpload?: (sent: number, total: number) => void): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
      const headers: Record<string, string | number> = { accept: 'application/json' };
      if (payload) {
        headers['content-type'] = 'application/json';
        headers['content-length'] = payload.length;
      }
      const t = auth ? tokenFor() : undefined;
      if (t) headers.authorization = `Bearer ${t}`;
      const req = request(
        // A fresh connection per call: a kept-alive one can be closed by the daemon's idle
        // timeout just as it is reused (ECONNRESET), e.g. between two `stats` samples.
        r.socket
          ? { socketPath: r.socket, path, method, headers, agent: false }
          : { host: base!.hostname.replace(/^\[|\]$/g, ''), port: base!.port || 80, path: (base!.pathname.replace(/\/$/, '') || '') + path, method, headers, agent: false },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let parsed: any;
            try {
              parsed = text ? JSON.parse(text) : {};
            } catch {
              parsed = { raw: text };
            }
            const status = res.statusCode ?? 0;
            if (status >= 200 && status < 300) return resolve(parsed as T);
            reject(apiError(status, parsed, where, !!t));
          });
          res.on('error', reject);
        },
      );
      req.setTimeout(120_000, () => req.destroy(new Error('timed out after 120 s')));
      req.on('error', (err: NodeJS.ErrnoException) => {
        if (['ECONNREFUSED', 'ENOENT', 'EHOSTUNREACH', 'ECONNRESET', 'EACCES'].includes(err.code ?? '')) {
          const why = err.code === 'EACCES' ? 'permission denied (run as root or a member of the socket\'s group)' : 'is `fecflow serve` running?';
          reject(new CliError(`cannot reach the daemon at ${where}: ${why}`));
        } else reject(new CliError(`request to the daemon at ${where} failed: ${err.message}`));
      });
      if (payload && onUpload) {
        // Written in slices so a big import can show its progress.
        const slice = 256 * 1024;
        let off = 0;
        const pump = (): void => {
          while (off < payload.length) {
            const end = Math.min(payload.length, off + slice);
            const ok = req.write(payload.subarray(off, end));
            off = end;
            onUpload(off, payload.length);
            if (!ok) {
              req.once('drain', pump);
              return;
            }
          }
          req.end();
        };
        pump();
      } else req.end(payload);
    });

  return {
    where,
    // reads send the token too when there is one: some (the audit log) need it
    get: (path) => call('GET', path, undefined, true),
    send: (method, path, body, onUpload) => call(method, path, body, true, onUpload),
  };
}

function apiError(status: number, body: any, where: string, hadToken: boolean): CliError {
  const e = body?.error;
  if (status === 401) {
    return new CliError(
      hadToken
        ? `the daemon at ${where} refused the API token: pass the current one with --token or FECFLOW_TOKEN (or read it from the daemon's token file)`
        : `the daemon at ${where} needs an API token: pass --token, set FECFLOW_TOKEN, or run as root to read /var/lib/fecflow/token`,
    );
  }
  const issues: ApiIssue[] = Array.isArray(e?.issues) ? e.issues : [];
  const message = typeof e?.message === 'string' ? e.message : `HTTP ${status}`;
  return new CliError(message, 1, issues);
}
