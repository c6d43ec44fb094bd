// The OpenAPI 3.1 document: an independent validator (checking against the official 3.1
// schema) accepts it, it describes every route of the route table, and every route's real
// answers — successes and errors — match what it says, checked with a JSON Schema 2020-12
// validator. Routes are taken from the table itself, so a route added later is called too.
import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { routes } from '../../control/api/server.js';
import { configModel } from '../../control/daemon/config-model.js';
import { silentLogger } from '../../control/log.js';
import { call, startHarness, type Harness } from './fakes.js';

let h: Harness;
let doc: any;
beforeAll(async () => {
  h = await startHarness();
  const r = await call(h, 'GET', '/v1/openapi.json');
  expect(r.status).toBe(200);
  doc = r.json;
});
afterAll(async () => {
  await h.close();
});

const ajv = new Ajv2020({ strict: false, allErrors: true });
const sub = (mac: string, isp: string, name: string) => ({ subscriber: { mac, isp, name } });

/** Requests that reach each route's success path (in this order); a route without one is
 * called with a placeholder and its answer (an error, most likely) is checked all the same. */
const SAMPLES: Array<[string, string, unknown?]> = [
  ['GET', '/healthz'],
  ['GET', '/readyz'],
  ['GET', '/metrics'],
  ['GET', '/v1/status'],
  ['GET', '/v1/config'],
  ['POST', '/v1/config', { config: 'node: x\n' }],
  ['POST', '/v1/reload'],
  ['POST', '/v1/reload?dryRun=true'],
  ['GET', '/v1/isps'],
  ['POST', '/v1/isps', { isp: { name: 'gamma' } }],
  ['DELETE', '/v1/isps/beta'],
  ['PUT', '/v1/isps/alpha/rate', { up: { rate: '10Mbit', burst: '64KB' } }],
  ['POST', '/v1/subscribers', sub('02:00:00:00:00:21', 'beta', 'n21')],
  ['POST', '/v1/subscribers', { subscriber: { mac: 'nope', isp: 'beta' } }],
  ['POST', '/v1/subscribers', sub('02:00:00:00:00:21', 'nobody', 'n22')],
  ['POST', '/v1/subscribers/move', sub('02:00:00:00:00:21', 'alpha', 'n21')],
  ['POST', '/v1/subscribers/import', { subscribers: [{ mac: '02:00:00:00:00:22', isp: 'beta' }, { prefix: '100.64.0.0/24', isp: 'alpha', deliver: { interface: 'acc', mac: '02:00:00:00:00:33' } }] }],
  ['POST', '/v1/subscribers/remove', { match: { mac: '02:00:00:00:00:22' } }],
  ['GET', '/v1/subscribers'],
  ['GET', '/v1/subscribers?isp=alpha'],
  ['GET', '/v1/subscribers/n21'],
  ['GET', '/v1/subscribers/nobody'],
  ['GET', '/v1/fecs'],
  ['GET', '/v1/labels'],
  ['GET', '/v1/stats'],
  ['GET', '/v1/audit?limit=5'],
  ['GET', '/v1/registry'],
  ['POST', '/v1/registry/check'],
  ['GET', '/v1/whoami'],
  ['POST', '/v1/tokens', { name: 'reader1', role: 'reader' }],
  ['GET', '/v1/tokens'],
  ['DELETE', '/v1/tokens/reader1'],
  ['POST', '/v1/webhooks', { name: 'w1', url: 'http://127.0.0.1:9/hook', types: ['subscriber.added'] }],
  ['GET', '/v1/webhooks'],
  ['DELETE', '/v1/webhooks/w1'],
  ['GET', '/v1/events?after=0&limit=50'],
  ['GET', '/v1/openapi.json'],
  ['POST', '/v1/token/rotate'],
  ['POST', '/v1/detach'],
];

/** The operation and path template the document has for a request. */
function operation(method: string, path: string): { op: any; template: string } | undefined {
  const pathname = path.split('?')[0]!;
  for (const [template, item] of Object.entries<any>(doc.paths)) {
    const re = new RegExp('^' + template.replace(/\{[^}]+\}/g, '[^/]+') + '$');
    if (re.test(pathname) && item[method.toLowerCase()]) return { op: item[method.toLowerCase()], template };
  }
  return undefined;
}

describe('the OpenAPI document', () => {
  it('is a valid OpenAPI 3.1 document by the official schema', async () => {
    const v = new Validator();
    const res = await v.validate(structuredClone(doc));
    expect(res.errors ?? []).toEqual([]);
    expect(res.valid).toBe(true);
    expect(doc.openapi).toMatch(/^3\.1\./);
  });

  it('describes every route of the route table, with its security', () => {
    const table = routes({ daemon: h.daemon, model: configModel, tokens: h.tokens, log: silentLogger(), ifname: () => 'x' });
    for (const r of table) {
      const o = operation(r.method, r.path.replace(/:([a-zA-Z]+)/g, 'x'));
      expect(o, `${r.method} ${r.path}`).toBeDefined();
      expect(o!.op.security, `${r.method} ${r.path}`).toEqual(r.auth ? [{ bearer: [] }] : []);
      if (r.auth) expect(Object.keys(o!.op.responses)).toEqual(expect.arrayContaining(['401', '403', 'default']));
    }
    expect(doc.webhooks?.event?.post).toBeDefined();
  });

  it('matches every route\'s real answers', async () => {
    const table = routes({ daemon: h.daemon, model: configModel, tokens: h.tokens, log: silentLogger(), ifname: () => 'x' });
    const calls = [...SAMPLES];
    const sampled = new Set(SAMPLES.map(([m, p]) => `${m} ${p.split('?')[0]}`));
    for (const r of table) {
      const concrete = r.path.replace(/:([a-zA-Z]+)/g, 'x');
      if (![...sampled].some((k) => operation(k.split(' ')[0]!, k.slice(k.indexOf(' ') + 1))?.template === operation(r.method, concrete)?.template && k.startsWith(`${r.method} `))) {
        calls.splice(calls.length - 2, 0, [r.method, concrete, r.method === 'GET' || r.method === 'DELETE' ? undefined : {}]);
      }
    }
    let token = h.token;
    const checked = new Set<string>();
    for (const [method, path, body] of calls) {
      const res = await call(h, method, path, body, token);
      const o = operation(method, path);
      expect(o, `${method} ${path}`).toBeDefined();
      const resp = o!.op.responses[String(res.status)] ?? o!.op.responses.default;
      expect(resp, `${method} ${path} answered ${res.status}`).toBeDefined();
      const json = resp.content?.['application/json'];
      if (json && res.headers.get('content-type')?.startsWith('application/json')) {
        const validate = ajv.compile(json.schema);
        const ok = validate(res.json);
        expect(ok ? [] : validate.errors, `${method} ${path} ${res.status}: ${res.text.slice(0, 300)}`).toEqual([]);
      } else {
        expect(Object.keys(resp.content ?? {}), `${method} ${path} ${res.status}`).toContain(res.headers.get('content-type')!.split(';')[0]);
      }
      if (res.status < 300) checked.add(`${method} ${o!.template}`);
      if (path === '/v1/token/rotate') token = res.json.token;
    }
    // every documented success was seen at least once
    const refused = new Set(['POST /v1/config', 'POST /v1/isps', 'DELETE /v1/isps/{name}']);
    for (const r of table) {
      const key = `${r.method} ${r.path.replace(/:([a-zA-Z]+)/g, '{$1}')}`;
      if (refused.has(key) || !SAMPLES.some(([m, p]) => operation(m, p)?.template === r.path.replace(/:([a-zA-Z]+)/g, '{$1}') && m === r.method)) continue;
      expect(checked.has(key), `${key} answered a success`).toBe(true);
    }
  });
});
