// TLS and the CLI's care with tokens: a CA made with openssl signs the daemon's certificate
// (and a client's); the CLI speaks HTTPS with --ca, refuses a daemon it cannot verify, presents
// a client certificate when the daemon asks for one; a new certificate is taken without a
// restart; and the CLI refuses to send a token in clear to a host that is not loopback.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { connect as tlsConnect } from 'node:tls';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../control/cli/main.js';
import { isLoopback } from '../../control/cli/client.js';
import { listen, metricsHandler, type Listening } from '../../control/api/server.js';
import { silentLogger } from '../../control/log.js';
import { startHarness, type Harness } from '../api/fakes.js';

let dir: string;
let h: Harness;
const open: Listening[] = [];

const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });

/** A key and a certificate signed by the test CA. */
function issue(name: string, cn: string, ext: string): void {
  ssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`);
  writeFileSync(join(dir, `${name}.ext`), ext);
  ssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.pem`, '-days', '2', '-extfile', `${name}.ext`);
}

const file = (n: string) => join(dir, n);
const pem = (n: string) => readFileSync(file(n));

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fecflow-tls-'));
  ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=fecflow test CA');
  issue('server', 'router1', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  issue('server2', 'router1-renewed', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  issue('client', 'operator', 'extendedKeyUsage=clientAuth\n');
  // a CA the daemon does not trust, with a client certificate of its own
  ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'other.key', '-out', 'other.pem', '-days', '2', '-subj', '/CN=someone else');
  h = await startHarness();
}, 60_000);

afterAll(async () => {
  for (const l of open) await l.close();
  await h?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function run(args: string[], env: Record<string, string>) {
  let out = '';
  let err = '';
  const code = await main(['node', 'fecflow', ...args], { out: (t) => void (out += t), err: (t) => void (err += t), isTTY: false }, env);
  return { code, out, err };
}

async function serveTls(clientCa: boolean): Promise<{ url: string; l: Listening }> {
  const l = await listen(h.handler, [{ kind: 'tcp', host: '127.0.0.1', port: 0 }], { tls: { cert: pem('server.pem'), key: pem('server.key'), ...(clientCa ? { clientCa: pem('ca.pem') } : {}) } });
  open.push(l);
  return { url: `https://127.0.0.1:${(l.bound[0] as { port: number }).port}`, l };
}

/** The CN of the certificate a TLS server presents now. */
function peerCn(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tlsConnect({ host: '127.0.0.1', port, ca: pem('ca.pem') }, () => {
      resolve(String(s.getPeerCertificate().subject.CN));
      s.end();
    });
    s.on('error', reject);
  });
}

describe('HTTPS', () => {
  it('the CLI speaks HTTPS with --ca, and refuses a daemon it cannot verify', async () => {
    const { url } = await serveTls(false);
    const ok = await run(['status', '--json'], { FECFLOW_URL: url, FECFLOW_TOKEN: h.token, FECFLOW_CA: file('ca.pem') });
    expect(ok.err).toBe('');
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.out).node).toBe('test');
    const unverified = await run(['status'], { FECFLOW_URL: url, FECFLOW_TOKEN: h.token });
    expect(unverified.code).toBe(1);
    expect(unverified.err).toMatch(/did not prove who it is .*--ca/);
    const wrongCa = await run(['--ca', file('other.pem'), 'status'], { FECFLOW_URL: url, FECFLOW_TOKEN: h.token });
    expect(wrongCa.code).toBe(1);
  });

  it('with a client CA, only a client holding a certificate it signed gets through (besides the token)', async () => {
    const { url } = await serveTls(true);
    const env = { FECFLOW_URL: url, FECFLOW_TOKEN: h.token, FECFLOW_CA: file('ca.pem') };
    const none = await run(['status'], env);
    expect(none.code).toBe(1);
    expect(none.err).toMatch(/cannot reach|failed|certificate/);
    const foreign = await run(['--cert', file('other.pem'), '--key', file('other.key'), 'status'], env);
    expect(foreign.code).toBe(1);
    expect(foreign.err).not.toMatch(/"node"/);
    const ok = await run(['--cert', file('client.pem'), '--key', file('client.key'), 'status', '--json'], env);
    expect(ok.err).toBe('');
    expect(ok.code).toBe(0);
    // the certificate does not replace the token
    const noToken = await run(['--cert', file('client.pem'), '--key', file('client.key'), 'status'], { ...env, FECFLOW_TOKEN: '' });
    expect(noToken.code).toBe(1);
    expect(noToken.err).toMatch(/needs an API token/);
  });

  it('takes a renewed certificate without a restart (what SIGHUP does), and keeps the old one when the new files do not fit', async () => {
    const { url, l } = await serveTls(false);
    const port = Number(new URL(url).port);
    expect(await peerCn(port)).toBe('router1');
    l.reloadTls({ cert: pem('server2.pem'), key: pem('server2.key') });
    expect(await peerCn(port)).toBe('router1-renewed');
    expect(() => l.reloadTls({ cert: pem('server.pem'), key: pem('server2.key') })).toThrow();
    expect(await peerCn(port)).toBe('router1-renewed');
  });
});

describe('the token is never sent in clear to another host', () => {
  let seen = 0;
  let server: Server;
  let port: number;
  const local = Object.values(networkInterfaces())
    .flat()
    .find((a) => a && a.family === 'IPv4' && !a.internal)?.address;

  beforeAll(async () => {
    // a stand-in daemon on this machine's own non-loopback address: traffic stays on the host
    server = createServer((req, res) => {
      seen++;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ node: 'x', ready: true, detached: false, configPath: '', uptimeSeconds: 0, programs: [], tables: {}, isps: 0, subscribers: 0, lastReconcile: null, auth: req.headers.authorization ?? null }));
    });
    await new Promise<void>((r) => server.listen(0, '0.0.0.0', () => r()));
    port = (server.address() as { port: number }).port;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('knows loopback when it sees it', () => {
    for (const hst of ['127.0.0.1', '127.1.2.3', 'localhost', '[::1]', '::1', '::ffff:127.0.0.1']) expect(isLoopback(hst), hst).toBe(true);
    for (const hst of ['10.0.0.1', '192.0.2.1', 'router.example', '::ffff:10.0.0.1', '[2001:db8::1]']) expect(isLoopback(hst), hst).toBe(false);
  });

  it('refuses plain http:// to a non-loopback address with a token, before connecting; --insecure-plain-http lets it through', async () => {
    expect(local, 'this machine has a non-loopback IPv4 address').toBeDefined();
    const env = { FECFLOW_URL: `http://${local}:${port}`, FECFLOW_TOKEN: 'f'.repeat(64) };
    const r = await run(['status'], env);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/refusing to send the API token in clear over http:\/\/ to .*https:\/\//);
    expect(seen).toBe(0);
    const forced = await run(['--insecure-plain-http', 'status', '--json'], env);
    expect(forced.code).toBe(0);
    expect(seen).toBe(1);
  });
});

describe('/metrics on its own listener', () => {
  it('serves /metrics there and not on the API', async () => {
    const m = await listen(metricsHandler(h.metrics, silentLogger()), [{ kind: 'tcp', host: '127.0.0.1', port: 0 }]);
    open.push(m);
    const base = `http://127.0.0.1:${(m.bound[0] as { port: number }).port}`;
    const r = await fetch(`${base}/metrics`);
    expect(r.status).toBe(200);
    expect(await r.text()).toMatch(/fecflow_/);
    expect((await fetch(`${base}/v1/status`)).status).toBe(404);
    const h2 = await startHarness(undefined, { metricsElsewhere: true });
    try {
      const a = await fetch(`${h2.url}/metrics`);
      expect(a.status).toBe(404);
    } finally {
      await h2.close();
    }
  });
});
