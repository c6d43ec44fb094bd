// `fecflow token create|list|revoke` through the daemon and --offline on its registry, and
// `fecflow webhook add|list|remove`: what an operator types, what they see, what works after.


import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { main } from '../../control/cli/main.js';
import { NodeLock, stateLockPath } from '../../control/registry/lock.js';
import { Registry, registryPath } from '../../control/registry/registry.js';
import { TokenRegistry } from '../../control/registry/tokens.js';
import { startHarness, type Harness } from '../api/fakes.js';

let h: Harness;
beforeEach(async () => {
  h = await startHarness();
});
afterEach(async () => {
  await h.close();
});

async function run(args: string[], env: Record<string, string> = {}) {
  let out = '';
  let err = '';
  const code = await main(['node', 'fecflow', ...args], { out: (t) => void (out += t), err: (t) => void (err += t), isTTY: false }, { FECFLOW_URL: h.url, FECFLOW_TOKEN: h.token, ...env });
  return { code, out, err };
}

describe('fecflow token', () => {
  it('creates a token whose secret is printed once, lists it without the secret, and revokes it', async () => {
    const c = await run(['token', 'create', '--name', 'noc', '--role', 'reader']);
    expect(c.code).toBe(0);
    const secret = c.out.trim();
    expect(secret).toMatch(/^[0-9a-f]{64}$/);
    expect(c.err).toMatch(/shown only now/);
    const l = await run(['token', 'list']);
    expect(l.out).toMatch(/noc\s+reader/);
    expect(l.out).not.toContain(secret);
    // the new token reads but does not change
    expect((await run(['status'], { FECFLOW_TOKEN: secret })).code).toBe(0);
    const refused = await run(['subscriber', 'remove', '--mac', '02:00:00:00:00:01'], { FECFLOW_TOKEN: secret });
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/reader token may not POST .*use a token with that role/);
    expect((await run(['token', 'revoke', 'noc'])).out).toMatch(/token 'noc' \(reader\) revoked/);
    const after = await run(['status'], { FECFLOW_TOKEN: secret });
    expect(after.code).toBe(1);
    expect(after.err).toMatch(/refused the API token/);
  });

  it('an isp: token lists only its ISP\'s subscribers', async () => {
    expect((await run(['subscriber', 'assign', '--mac', '02:00:00:00:00:02', '--isp', 'beta'])).code).toBe(0);
    const secret = (await run(['token', 'create', '--name', 'alpha-ops', '--role', 'isp:alpha'])).out.trim();
    const l = await run(['subscriber', 'list', '--json'], { FECFLOW_TOKEN: secret });
    expect(l.code).toBe(0);
    expect(JSON.parse(l.out).map((s: { isp: string }) => s.isp)).toEqual(['alpha']);
  });

  it('works offline on the registry when the daemon is stopped, and refuses while it runs', async () => {
    const stateDir = join(h.dir, 'state');
    // the harness does not take the node lock; a daemon does: hold it the same way
    const lock = NodeLock.acquire([{ path: stateLockPath(stateDir, 'test'), what: "node 'test'" }]);
    const busy = await run(['token', 'create', '--offline', '--state-dir', stateDir, '--node', 'test', '--name', 'x', '--role', 'admin']);
    lock.release();
    expect(busy.code).toBe(1);
    expect(busy.err).toMatch(/locked by another fecflow process.*leave out --offline/);
    await h.stop();
    const c = await run(['token', 'create', '--offline', '--state-dir', stateDir, '--node', 'test', '--name', 'break-glass', '--role', 'admin']);
    expect(c.code).toBe(0);
    const secret = c.out.trim();
    const reg = Registry.open(registryPath(stateDir, 'test'));
    try {
      expect(new TokenRegistry(reg).verify(secret)).toEqual({ name: 'break-glass', role: 'admin' });
      expect(reg.auditLog({ limit: 1 })[0]).toMatchObject({ actor: 'offline', action: 'token.create', target: 'break-glass' });
    } finally {
      reg.close();
    }
    expect((await run(['token', 'list', '--offline', '--state-dir', stateDir, '--node', 'test', '--json'])).out).toMatch(/break-glass/);
    expect((await run(['token', 'revoke', 'break-glass', '--offline', '--state-dir', stateDir, '--node', 'test'])).code).toBe(0);
    expect((await run(['token', 'create', '--offline', '--state-dir', stateDir, '--name', 'y', '--role', 'admin'])).code).toBe(2);
  });
});

describe('fecflow events', () => {
  it('prints the events the token may see, after --after, across pages', async () => {
    for (const [mac, isp] of [['02:00:00:00:0d:01', 'alpha'], ['02:00:00:00:0d:02', 'beta'], ['02:00:00:00:0d:03', 'alpha']]) {
      expect((await run(['subscriber', 'assign', '--mac', mac!, '--isp', isp!])).code).toBe(0);
    }
    const all = await run(['events', '--json']);
    expect(all.code).toBe(0);
    const rows = all.out.trim().split('\n').map((l) => JSON.parse(l));
    expect(rows.map((e) => [e.type, e.isp])).toEqual([
      ['subscriber.added', 'alpha'],
      ['subscriber.added', 'beta'],
      ['subscriber.added', 'alpha'],
    ]);
    expect((await run(['events', '--after', String(rows[1].seq)])).out).toMatch(/^\d+ +\S+ +subscriber\.added +alpha/);
    const alpha = (await run(['token', 'create', '--name', 'a', '--role', 'isp:alpha'])).out.trim();
    const mine = await run(['events', '--json'], { FECFLOW_TOKEN: alpha });
    expect(mine.out.trim().split('\n').map((l) => JSON.parse(l).isp)).toEqual(['alpha', 'alpha']);
    expect((await run(['events', '--after', 'x'])).code).toBe(2);
  });
});

describe('fecflow webhook', () => {
  it('adds (printing the secret once), lists and removes', async () => {
    const a = await run(['webhook', 'add', 'billing', 'http://127.0.0.1:9/hook', '--types', 'subscriber.added,subscriber.moved', '--isp', 'alpha']);
    expect(a.err).toMatch(/added/);
    expect(a.code).toBe(0);
    expect(a.out.trim()).toMatch(/^[0-9a-f]{64}$/);
    const l = await run(['webhook', 'list']);
    expect(l.out).toMatch(/billing\s+http:\/\/127\.0\.0\.1:9\/hook\s+subscriber\.added,subscriber\.moved\s+alpha\s+0\s+0/);
    expect(l.out).not.toContain(a.out.trim());
    expect((await run(['webhook', 'add', 'bad', 'file:///etc/passwd'])).code).toBe(1);
    expect((await run(['webhook', 'remove', 'billing'])).code).toBe(0);
    expect((await run(['webhook', 'remove', 'billing'])).code).toBe(1);
  });
});

