// `fecflow session open|list|show|close` against the API (fake data plane, an ISP without a
// RADIUS server: sessions open on the operator's word), human output and --json.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { main } from '../../control/cli/main.js';
import { CONFIG, startHarness, type Harness } from '../api/fakes.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness(CONFIG.replace('    match: { mac: "02:00:00:00:00:01" }', '    admission: session\n    match: { mac: "02:00:00:00:00:01" }'));
});
afterAll(async () => {
  await h.close();
});

async function run(args: string[], env: Record<string, string> = {}) {
  let out = '';
  let err = '';
  const code = await main(['node', 'fecflow', ...args], { out: (t) => void (out += t), err: (t) => void (err += t), isTTY: false }, { FECFLOW_URL: h.url, FECFLOW_TOKEN: h.token, ...env });
  return { code, out, err };
}

const macEntry = () => h.maps.get('sub_mac')!.data.get('0200000000010000');

it('opens, lists, shows and closes a session, and the classifier entry follows it', async () => {
  expect(macEntry()).toBeUndefined();
  const o = await run(['session', 'open', 's1', '--json']);
  expect(o.code).toBe(0);
  const s = JSON.parse(o.out);
  expect(s).toMatchObject({ subscriber: 's1', isp: 'alpha', state: 'open', interimInterval: 0 });
  expect(macEntry()).toBeDefined();

  const again = await run(['session', 'open', 's1']);
  expect(again.code).toBe(1);
  expect(again.err).toMatch(/already has session [0-9A-F]{16} \(open\)/);

  const l = await run(['session', 'list']);
  expect(l.code).toBe(0);
  expect(l.out).toContain(s.id);
  expect(l.out).toMatch(/s1\s+alpha\s+open/);

  const show = await run(['session', 'show', s.id]);
  expect(show.code).toBe(0);
  expect(show.out).toMatch(/^session\s+[0-9A-F]{16}$/m);
  // the Start in the ledger, with nothing to send (alpha has no RADIUS server)
  expect(show.out).toMatch(/1\s+start\s+\S+\s+0\s+0\s+0\s+-/);

  const c = await run(['session', 'close', s.id]);
  expect(c.code).toBe(0);
  expect(c.out).toBe(`session ${s.id} closed: up 0 B, down 0 B\n`);
  expect(macEntry()).toBeUndefined();
  const closed = JSON.parse((await run(['session', 'list', '--state', 'closed', '--json'])).out);
  expect(closed.map((x: { id: string; cause: string }) => [x.id, x.cause])).toEqual([[s.id, 'admin-reset']]);
});

it('needs the token for every session command, and names unknown sessions', async () => {
  const r = await run(['session', 'list'], { FECFLOW_TOKEN: 'wrong' });
  expect(r.code).toBe(1);
  expect(r.err).toMatch(/token/);
  const n = await run(['session', 'show', 'NOSUCH']);
  expect(n.code).toBe(1);
  expect(n.err).toMatch(/no session 'NOSUCH'/);
  expect((await run(['session', 'open'])).code).toBe(2);
});
