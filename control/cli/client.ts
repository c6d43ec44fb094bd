// The CLI's client of the daemon's API: over a Unix socket, HTTPS (checking the daemon's
// certificate against --ca, optionally with a client certificate) or plain HTTP, with the
// bearer token from FECFLOW_TOKEN, --token-file/FECFLOW_TOKEN_FILE or the default token file
// (--token works too, but puts the secret where `ps` shows it). The token is never sent in
// clear to another host: plain HTTP is for loopback unless --insecure-plain-http says otherwise.
// Every failure becomes a CliError whose one line says what to do.
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP } from 'node:net';
import { readFileSync } from 'node:fs';
import { CliError } from './errors.js';

export const DEFAULT_URL = 'http://127.0.0.1:9180';
export const DEFAULT_TOKEN_FILE = '/var/lib/fecflow/token';

export interface ClientOptions {
  url?: string;
  socket?: string;
  token?: string;
  tokenFile?: string;
  /** PEM file of the CA that signed the daemon's certificate (https://) */
  ca?: string;
  /** client certificate and key (PEM), for a daemon started with --tls-client-ca */
  cert?: string;
  key?: string;
  /** send the token over plain HTTP to a host that is not loopback */
  insecurePlainHttp?: boolean;
}

/** Loopback: 127.0.0.0/8, ::1, localhost. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h.endsWith('.localhost') || h === '::1') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  return /^::ffff:127\./.test(h);
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
  return { ...o, url, socket, token: o.token ?? env.FECFLOW_TOKEN, tokenFile: o.tokenFile ?? env.FECFLOW_TOKEN_FILE, ca: o.ca ?? env.FECFLOW_CA };
}

export function createClient(opts: ClientOptions, env: NodeJS.ProcessEnv = process.env): ApiClient {
  const r = resolveClientOptions(opts, env);
  let base: URL | undefined;
  if (!r.socket) {
    try {
      base = new URL(r.url);
    } catch {
      throw new CliError(`invalid daemon URL '${r.url}': use https://HOST:PORT, http://HOST:PORT or unix:/path/to.sock`, 2);
    }
    if (base.protocol !== 'http:' && base.protocol !== 'https:') throw new CliError(`invalid daemon URL '${r.url}': use https://HOST:PORT, http://HOST:PORT or unix:/path/to.sock`, 2);
  }
  const https = base?.protocol === 'https:';
  const pem = (file: string | undefined, what: string): Buffer | undefined => {
    if (file === undefined) return undefined;
    try {
      return readFileSync(file);
    } catch (err) {
      throw new CliError(`cannot read the ${what} ${file}: ${(err as NodeJS.ErrnoException).code ?? err}`);
    }
  };
  const tlsOpts = https ? { ca: pem(r.ca, 'CA file (--ca)'), cert: pem(r.cert, 'client certificate (--cert)'), key: pem(r.key, 'client key (--key)') } : {};
  if ((r.cert === undefined) !== (r.key === undefined)) throw new CliError('--cert and --key go together', 2);
  const clearToRemote = base !== undefined && !https && !isLoopback(base.hostname);
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
      if (t && clearToRemote && !r.insecurePlainHttp) {
        return reject(
          new CliError(
            `refusing to send the API token in clear over http:// to ${base!.host}, which is not this machine: use https:// (serve --tls-cert/--tls-key, and --ca here), or --insecure-plain-http if the network between is yours`,
            2,
          ),
        );
      }
      if (t) headers.authorization = `Bearer ${t}`;
      const request = https ? httpsRequest : httpRequest;
      const req = request(
        // A fresh connection per call: a kept-alive one can be closed by the daemon's idle
        // timeout just as it is reused (ECONNRESET), e.g. between two `stats` samples.
        r.socket
          ? { socketPath: r.socket, path, method, headers, agent: false }
          : {
              host: base!.hostname.replace(/^\[|\]$/g, ''),
              port: base!.port || (https ? 443 : 80),
              path: (base!.pathname.replace(/\/$/, '') || '') + path,
              method,
              headers,
              agent: false,
              ...tlsOpts,
            },
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
        if (/CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|ERR_TLS/.test(err.code ?? '')) {
          reject(new CliError(`the daemon at ${where} did not prove who it is (${err.code}: ${err.message}): pass its CA with --ca (or FECFLOW_CA)`));
        } else if (['ECONNREFUSED', 'ENOENT', 'EHOSTUNREACH', 'ECONNRESET', 'EACCES'].includes(err.code ?? '')) {
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
        ? `the daemon at ${where} refused the API token (wrong, revoked or rotated): set FECFLOW_TOKEN or --token-file to a current one`
        : `the daemon at ${where} needs an API token: set FECFLOW_TOKEN, pass --token-file, or run as root to read /var/lib/fecflow/token`,
    );
  }
  if (status === 403) return new CliError(typeof e?.message === 'string' ? `${e.message} (use a token with that role)` : 'the token\'s role may not do this');
  const issues: ApiIssue[] = Array.isArray(e?.issues) ? e.issues : [];
  const message = typeof e?.message === 'string' ? e.message : `HTTP ${status}`;
  return new CliError(message, 1, issues);
}
