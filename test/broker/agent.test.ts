// The device's agent against a real API server over its Unix socket: it enrols (its key and
// state kept with mode 0600), opens a session with its provider, renews before expiry, rides
// out a daemon restart (back-off, then the same session renewed), and `fecflow agent status`
// prints its session.
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Agent } from '../../control/broker/agent.js';
import { main } from '../../control/cli/main.js';
import { CONFIG, call, startHarness, type Harness } from '../api/fakes.js';
import { PROFILE } from './helpers.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, cond: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

let h: Harness | undefined;
let agentDir: string | undefined;
const stop = new AbortController();
afterEach(async () => {
  stop.abort();
  await h?.close();
  if (agentDir) rmSync(agentDir, { recursive: true, force: true });
});

describe('the agent', () => {
  it('enrols, keeps a session renewed, and goes on after a daemon restart', async () => {
    h = await startHarness();
    const ttl = 9;
    for (const name of ['alpha', 'beta']) expect((await call(h, 'POST', '/v1/broker/providers', { name, kind: 'isp', profile: { ...PROFILE, tokenTtl: ttl } })).status).toBe(201);
    const code = (await call(h, 'POST', '/v1/broker/cpes', { name: 'alice', isp: 'alpha', subscriber: 's1' })).json.code;
    agentDir = mkdtempSync(join(tmpdir(), 'fecflow-agent-'));
    const broker = `unix:${h.socket}`;

    let out = '';
    const enrol = await main(['node', 'fecflow', 'agent', 'enrol', '--dir', agentDir, '--code', code, '--broker', broker], { out: (t) => void (out += t), err: (t) => void (out += t), isTTY: false }, {});
    expect(enrol, out).toBe(0);
    expect(out).toMatch(/enrolled as alice/);
    expect(statSync(join(agentDir, 'key.pem')).mode & 0o777).toBe(0o600);
    expect(statSync(join(agentDir, 'agent.json')).mode & 0o777).toBe(0o600);

    const agent = Agent.load(agentDir);
    const events: Array<{ type: string; session?: string; at: number }> = [];
    const running = agent.run({ provider: 'beta', signal: stop.signal, minBackoffMs: 100, maxBackoffMs: 400, onEvent: (e) => events.push({ ...e, at: Date.now() }) });
    running.catch(() => undefined);
    await until('the session', () => events.some((e) => e.type === 'opened'), 10_000);
    const opened = events.find((e) => e.type === 'opened')!;
    const sid = opened.session!;
    expect(h.registry.subscriber('s1')!.isp).toBe('beta');

    // the daemon goes away before the renewal is due (at 2/3 of the token's life) and comes back after it
    await sleep(Math.max(0, opened.at + (ttl * 1000) / 2 - Date.now()));
    const dir = h.dir;
    await h.stop();
    await until('a retry while the daemon is down', () => events.some((e) => e.type === 'retry'), 10_000);
    h = await startHarness(CONFIG, { dir });
    await until('a renewal after the restart', () => events.some((e) => e.type === 'renewed'), 10_000);
    expect(events.filter((e) => e.type === 'opened')).toHaveLength(1);
    expect(events.find((e) => e.type === 'renewed')!.session).toBe(sid);
    const s = h.broker.store.session(sid)!;
    expect(s).toMatchObject({ state: 'open', tokenSeq: 2 });
    expect(h.registry.subscriber('s1')!.isp).toBe('beta');
    // the renewed token is the one the agent holds, and the provider's check accepts it
    expect((await call(h, 'POST', '/v1/broker/tokens/verify', { token: Agent.load(agentDir).state.session!.token, provider: 'beta' }, null)).json.active).toBe(true);

    let status = '';
    expect(await main(['node', 'fecflow', 'agent', 'status', '--dir', agentDir], { out: (t) => void (status += t), err: (t) => void (status += t), isTTY: false }, {})).toBe(0);
    expect(status).toContain(sid);
    expect(status).toMatch(/device alice \(enrolled\)/);
    stop.abort();
    await running;
    expect(events.at(-1)!.type).toBe('stopped');
  });
});
