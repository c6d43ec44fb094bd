// A small client of one lab router's daemon API, over its Unix socket (reachable from the
// host's mount namespace whatever network namespace the daemon runs in). The CLI has its own
// client; the lab keeps this one so that control/lab never imports from control/cli, which
// sits above it.
import { request } from 'node:http';
import { existsSync, readFileSync } from 'node:fs';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly body: unknown,
  ) {
    super(message);
  }
}

export interface RouterApi {
  get<T = any>(path: string): Promise<T>;
  send<T = any>(method: string, path: string, body?: unknown): Promise<T>;
  /** GET returning text (/metrics) */
  text(path: string): Promise<string>;
}

export function routerApi(socket: string, tokenFile: string, timeoutMs = 30_000): RouterApi {
  const call = (method: string, path: string, body: unknown, auth: boolean): Promise<{ status: number; text: string }> =>
    new Promise((resolve, reject) => {
      const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
      const headers: Record<string, string | number> = {};
      if (payload) {
        headers['content-type'] = 'application/json';
        headers['content-length'] = payload.length;
      }
      // every route but /healthz, /readyz and /metrics needs the token, reads too; before the
      // daemon wrote its token file only those three can answer anyway
      const token = auth && existsSync(tokenFile) ? readFileSync(tokenFile, 'utf8').trim() : undefined;
      if (token) headers.authorization = `Bearer ${token}`;
      // a fresh connection per call: a kept-alive one may be closed by the daemon's idle timeout
      // just as it is reused (EPIPE, ECONNRESET)
      const req = request({ socketPath: socket, path, method, headers, agent: false }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      });
      req.setTimeout(timeoutMs, () => req.destroy(new Error(`${method} ${path}: no answer within ${timeoutMs} ms`)));
      req.on('error', reject);
      req.end(payload);
    });
  const json = async <T>(method: string, path: string, body: unknown, auth: boolean): Promise<T> => {
    const r = await call(method, path, body, auth);
    let parsed: any;
    try {
      parsed = r.text ? JSON.parse(r.text) : {};
    } catch {
      parsed = { raw: r.text };
    }
    if (r.status < 200 || r.status >= 300) {
      const e = parsed?.error;
      const issues = Array.isArray(e?.issues) ? `: ${e.issues.map((i: any) => `${i.path}: ${i.message}`).join('; ')}` : '';
      throw new ApiError(r.status, `${method} ${path}: HTTP ${r.status} ${e?.message ?? ''}${issues}`, parsed);
    }
    return parsed as T;
  };
  return {
    get: (path) => json('GET', path, undefined, true),
    send: (method, path, body) => json(method, path, body, true),
    async text(path) {
      const r = await call('GET', path, undefined, false);
      if (r.status !== 200) throw new ApiError(r.status, `GET ${path}: HTTP ${r.status}`, r.text);
      return r.text;
    },
  };
}
