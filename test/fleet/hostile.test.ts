// What a router does with what it should not apply, from a real nats-server: malformed JSON, a
// document of the wrong shape, one too large, one for another node, generations going
// backwards, an intent naming an ISP the router lacks. Each is refused and counted, and nothing
// changes — registry, maps, audit log. And the accounting check: an ISP's traffic taken in and
// never delivered is reported, on the stream and by `fecflow controller check --json`.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createServer } from 'node:http';
import { join } from 'node:path';
import type { KvEntry } from '@nats-io/kv';
import { NatsServer, waitFor } from './nats.js';
import { intent, registryState, startController, startRouter, type TestController, type TestRouter } from './rig.js';
import { CONTROLLER_SUBJECT, FLEET_STREAM, MAX_INTENT_BYTES, flatSubscriber } from '../../control/fleet/intent.js';
import { checkAccounting } from '../../control/fleet/accounting.js';
import { TokenStore } from '../../control/daemon/token.js';
import { configModel } from '../../control/daemon/config-model.js';
import { main } from '../../control/cli/main.js';
import type { IspCounterRow } from '../../control/metrics/collector.js';

let nats: NatsServer;
const cleanup: Array<() => Promise<void>> = [];
beforeAll(async () => {
  nats = await NatsServer.start();
});
afterAll(async () => {
  for (const f of cleanup.splice(0).reverse()) await f().catch(() => undefined);
  await nats?.close();
});

async function setup(nodes: string[]): Promise<{ rs: TestRouter[]; ctl: TestController }> {
  const rs: TestRouter[] = [];
  for (const n of nodes) {
    const r = await startRouter(nats.url, n);
    cleanup.push(() => r.close());
    rs.push(r);
  }
  const ctl = await startController(nats.url);
  cleanup.push(() => ctl.close());
  await ctl.c.ready();
  return { rs, ctl };
}

function doc(node: string, generation: number, subs: Array<[string, string]>, extra: Record<string, unknown> = {}) {
  return JSON.stringify({ kind: 'fecflow.intent', version: 1, node, controller: 'intruder', generation, at: new Date().toISOString(), subscribers: intent(subs).subscribers.map(flatSubscriber), rates: {}, ...extra });
}

describe('hostile entries of a node\'s key', () => {
  test('are refused, counted, and change nothing; a later good generation still applies', async () => {
    const node = `fh-${process.pid}`;
    const { rs, ctl } = await setup([node]);
    const r = rs[0]!;
    ctl.c.setIntent(node, intent([['02:00:00:00:00:01', 'alpha']]), 't');
    await ctl.c.sync();
    ctl.c.setIntent(node, intent([['02:00:00:00:00:01', 'beta'], ['02:00:00:00:00:02', 'alpha']]), 't');
    await ctl.c.sync();
    await waitFor('generation 2 applied', () => r.store.applied()?.generation === 2);
    const before = { maps: r.h.snapshot(), state: registryState(r), audit: r.h.registry.auditLog({ after: 0, limit: 10_000 }).length };
    const kv = (ctl.c as unknown as { handles: { kv: { put(k: string, v: string): Promise<number>; delete(k: string): Promise<void> } } }).handles.kv;

    const sent: Array<[string, string]> = [
      ['not_json', '{"kind": "fecflow.intent", '],
      ['bad_schema', JSON.stringify({ kind: 'fecflow.intent', version: 1, node, controller: 'x', generation: 9, at: 'now', subscribers: [{ mac: 'zz', isp: 'alpha' }], rates: {} })],
      ['bad_schema', doc(node, 9, [['02:00:00:00:00:01', 'alpha']], { extra: true })],
      ['wrong_node', doc('someone-else', 9, [['02:00:00:00:00:01', 'alpha']])],
      ['backwards', doc(node, 1, [['02:00:00:00:00:09', 'alpha']])],
      ['backwards', doc(node, 2, [['02:00:00:00:00:09', 'alpha']])], // same generation, other content
      ['invalid_config', doc(node, 9, [['02:00:00:00:00:01', 'gamma']])], // no such ISP on this router
    ];
    let rev = 0;
    for (const [reason, value] of sent) {
      rev = await kv.put(node, value);
      await waitFor(`${reason} refused (revision ${rev})`, () => r.agent.status().last?.revision === rev);
      expect(r.agent.status().last).toMatchObject({ ok: false, reason });
    }
    // Too large for the bucket: the server refuses it; and a router reading one (a bucket made by
    // someone else, without the size limit) refuses it before parsing it.
    await expect(kv.put(node, 'x'.repeat(MAX_INTENT_BYTES + 1))).rejects.toThrow();
    const huge = Buffer.alloc(MAX_INTENT_BYTES + 1, 0x20);
    const fake = (key: string, value: Uint8Array, revision: number): KvEntry => ({ bucket: 'b', key, value, created: new Date(), revision, operation: 'PUT', length: value.length, rawKey: key, json: () => JSON.parse(Buffer.from(value).toString()), string: () => Buffer.from(value).toString() });
    await r.agent.offer(fake(node, huge, rev + 1));
    await r.agent.offer(fake('another-node', Buffer.from(doc('another-node', 50, [])), rev + 1000));
    // A deleted key undoes nothing.
    await kv.delete(node);
    await new Promise((res) => setTimeout(res, 700));

    expect(r.agent.status().refused).toEqual({ not_json: 1, bad_schema: 2, wrong_node: 2, backwards: 2, invalid_config: 1, too_large: 1 });
    expect(r.h.snapshot()).toBe(before.maps);
    expect(registryState(r)).toEqual(before.state);
    expect(r.h.registry.auditLog({ after: 0, limit: 10_000 }).length).toBe(before.audit);
    expect(r.store.applied()?.generation).toBe(2);
    expect(r.h.daemon.ready()).toBe(true);

    // The refusals were reported on the stream.
    await waitFor('refusals reported', () => r.store.pending() === 0);

    // The controller's next generation applies: the key moved on under it, but only to a deletion,
    // which it writes after.
    const good = intent([['02:00:00:00:00:03', 'alpha']]);
    ctl.c.setIntent(node, good, 't');
    expect(await ctl.c.publish(node)).toMatchObject({ state: 'published', generation: 3 });
    await waitFor('generation 3 applied', () => r.store.applied()?.generation === 3);
    expect(registryState(r).subscribers).toEqual({ '02:00:00:00:00:03': 'alpha' });
  });
});

describe('the accounting check', () => {
  test('balances per ISP and direction, excuses drops after classification, and reports an ISP\'s traffic taken in and not delivered', async () => {
    const p = process.pid;
    const [he, lsr, te] = [`ah-${p}`, `al-${p}`, `at-${p}`];
    const { rs, ctl } = await setup([he, lsr, te]);
    for (const r of rs) ctl.c.setIntent(r.node, intent([['02:00:00:00:00:01', 'alpha']]), 't');
    await ctl.c.sync();
    const index = (r: TestRouter, name: string) => configModel.isps(r.h.daemon.runningRaw).find((i) => i.name === name)!.index;
    const set = (r: TestRouter, rows: Array<[isp: string, dir: 'up' | 'down', point: 'in' | 'out' | 'transit', packets: number]>) => {
      r.h.dp.isp = rows.map(([isp, direction, point, packets]): IspCounterRow => ({ isp: index(r, isp), direction, point, packets: BigInt(packets), bytes: BigInt(packets * 100) }));
    };
    const [H, L, T] = rs as [TestRouter, TestRouter, TestRouter];
    // alpha: 10000 up in at the headend, all out at the tailend; 4000 down the other way.
    // beta: 5000 up in at the headend, through the LSR, only 3000 out at the tailend.
    set(H, [['alpha', 'up', 'in', 10_000], ['beta', 'up', 'in', 5_000], ['alpha', 'down', 'out', 4_000]]);
    set(L, [['alpha', 'up', 'transit', 10_000], ['beta', 'up', 'transit', 5_000], ['alpha', 'down', 'transit', 4_000]]);
    set(T, [['alpha', 'up', 'out', 10_000], ['beta', 'up', 'out', 3_000], ['alpha', 'down', 'in', 4_000]]);
    const fresh = async () => {
      const since = Date.now();
      await waitFor('every router reported its counters', async () => {
        const st = await ctl.c.statuses();
        return rs.every((r) => (st.get(r.node)?.counters?.at ?? 0) >= since);
      });
    };
    await fresh();
    let report = await ctl.c.check();
    expect(report.complete).toBe(true);
    expect(report.mismatches.map((b) => `${b.isp}/${b.direction}`)).toEqual(['beta/up']);
    const beta = report.mismatches[0]!;
    expect(beta).toMatchObject({ in: 5000, out: 3000, gap: 2000, ok: false });
    expect(beta.nodes).toEqual([
      { node: he, in: 5000, transit: 0, out: 0 },
      { node: lsr, in: 0, transit: 5000, out: 0 },
      { node: te, in: 0, transit: 0, out: 3000 },
    ]);
    expect(report.balances.find((b) => b.isp === 'alpha' && b.direction === 'up')).toMatchObject({ in: 10_000, out: 10_000, ok: true });
    expect(report.balances.find((b) => b.isp === 'alpha' && b.direction === 'down')).toMatchObject({ in: 4_000, out: 4_000, ok: true });

    // The event is on the stream.
    const jsm = (ctl.c as unknown as { handles: { jsm: { streams: { getMessage(s: string, q: { last_by_subj: string }): Promise<{ json<T>(): T } | null> } } } }).handles.jsm;
    await waitFor('the mismatch event on the stream', async () => {
      const m = await jsm.streams.getMessage(FLEET_STREAM, { last_by_subj: CONTROLLER_SUBJECT }).catch(() => null);
      const e = m?.json<{ type: string; data: { isp: string; gap: number } }>();
      return e?.type === 'accounting.mismatch' && e.data.isp === 'beta' && e.data.gap === 2000;
    });

    // `fecflow controller check --json` shows it, and exits 1.
    const tokens = TokenStore.inDir(join(ctl.dir, 'api'));
    await tokens.load();
    const srv = createServer(ctl.c.handler(tokens));
    await new Promise<void>((res) => srv.listen(0, '127.0.0.1', () => res()));
    cleanup.push(() => new Promise<void>((res) => srv.close(() => res())));
    const url = `http://127.0.0.1:${(srv.address() as { port: number }).port}`;
    let out = '';
    let err = '';
    const code = await main(['node', 'fecflow', 'controller', '--controller', url, '--controller-token-file', tokens.path, 'check', '--json'], { out: (t) => void (out += t), err: (t) => void (err += t), isTTY: false }, {});
    expect(code).toBe(1);
    expect(JSON.parse(out).mismatches[0]).toMatchObject({ isp: 'beta', direction: 'up', gap: 2000 });
    expect(err).toMatch(/1 accounting mismatch/);
    // without the token: refused
    const noToken = await fetch(`${url}/v1/fleet/check`);
    expect(noToken.status).toBe(401);

    // 2000 drops of a reason after classification (an unknown label at the tailend) explain the gap.
    T.h.dp.drops = [{ reason: 'unknown_label', packets: 2000n, bytes: 200_000n }];
    await fresh();
    report = await ctl.c.check();
    expect(report.mismatches).toEqual([]);
    expect(report.balances.find((b) => b.isp === 'beta' && b.direction === 'up')).toMatchObject({ gap: 2000, unattributedDrops: 2000, ok: true });
    expect(ctl.store.events().map((e) => e.type)).toEqual(expect.arrayContaining(['accounting.mismatch', 'accounting.balanced']));
  });

  test('judges nothing while a router\'s counters are missing or stale, and more delivered than taken in is a mismatch', () => {
    const zero = { packets: '0', bytes: '0' };
    const pts = (i: number, o: number) => ({ in: { packets: String(i), bytes: '0' }, out: { packets: String(o), bytes: '0' }, policed: zero, transit: zero });
    const now = 1_000_000;
    const c = (isps: Array<[string, number, number]>) => ({ at: now, isps: isps.map(([isp, i, o]) => ({ isp, up: pts(i, o), down: pts(0, 0) })), drops: [{ reason: 'no_fec', packets: '99999', bytes: '0' }] });
    const missing = checkAccounting(['a', 'b'], [{ node: 'a', at: now, counters: c([['x', 5000, 0]]) }], undefined, now);
    expect(missing).toMatchObject({ complete: false, missing: ['b'], mismatches: [] });
    const stale = checkAccounting(['a', 'b'], [{ node: 'a', at: now, counters: c([['x', 5000, 0]]) }, { node: 'b', at: now - 120_000, counters: c([['x', 0, 5000]]) }], undefined, now);
    expect(stale).toMatchObject({ complete: false, stale: ['b'], mismatches: [] });
    // drops before classification (no FEC) never excuse a gap; more out than in is wrong too
    const r = checkAccounting(['a', 'b'], [{ node: 'a', at: now, counters: c([['x', 5000, 0], ['y', 1000, 0]]) }, { node: 'b', at: now, counters: c([['x', 0, 4000], ['y', 0, 1500]]) }], undefined, now);
    expect(r.mismatches.map((b) => [b.isp, b.gap])).toEqual([['x', 1000], ['y', -500]]);
  });
});
