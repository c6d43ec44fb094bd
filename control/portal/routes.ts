// The portal: a web UI at /ui for operators, ISPs and (through the broker) end-users. It is a
// page and a script with no build step, and it holds no data of its own: the page signs in with
// an API token (kept in the tab's sessionStorage, sent as a Bearer header) and calls the same
// JSON API as the CLI, so every role and ISP boundary the API enforces holds in the browser too.
// The page and its assets are the only routes served without a token; they carry no data.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../bpf/native.js';
import { HttpError, type Reply, type Route } from '../api/http.js';


/** The portal's files, by the name they are served under (/ui/<name>). */
const ASSETS: Record<string, string> = {
  'index.html': 'text/html; charset=utf-8',
  'app.js': 'text/javascript; charset=utf-8',
  'app.css': 'text/css; charset=utf-8',
};

/** The paths served without a token: the portal's page and assets. */
export const PORTAL_PATHS: readonly string[] = ['/ui', '/ui/', ...Object.keys(ASSETS).map((n) => `/ui/${n}`)];

/** What a browser may do with the portal's pages: its own script and style, calls to this
 * origin only, no frames, no inline code (so text from the API can never run as script). */
const HEADERS: Record<string, string> = {
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

export function portalDir(): string {
  return join(repoRoot(), 'portal');
}

export function portalRoutes(dir = portalDir()): Route[] {
  const cache = new Map<string, string>();
  const asset = (name: string): Reply => {
    let text = cache.get(name);
    if (text === undefined) {
      try {
        text = readFileSync(join(dir, name), 'utf8');
      } catch {
        throw new HttpError(404, 'not_found', `the portal is not installed (${join(dir, name)} is missing)`);
      }
      cache.set(name, text);
    }
    return { text, contentType: ASSETS[name]!, headers: HEADERS };
  };
  const page = { summary: 'The portal (a page with no data; it signs in with an API token)', tags: ['portal'], responses: { 200: { description: 'the page', contentType: 'text/html' } } };
  return [
    { method: 'GET', path: '/ui', auth: false, doc: page, handler: async () => asset('index.html') },
    { method: 'GET', path: '/ui/', auth: false, doc: page, handler: async () => asset('index.html') },
    ...Object.keys(ASSETS).map(
      (name): Route => ({
        method: 'GET',
        path: `/ui/${name}`,
        auth: false,
        doc: { summary: `The portal's ${name}`, tags: ['portal'], responses: { 200: { description: name, contentType: ASSETS[name]!.split(';')[0]! } } },
        handler: async () => asset(name),
      }),
    ),
  ];
}
