// The fleet on a real nats-server: a controller drives three routers' intent through the
// JetStream bucket; NATS dies in the middle of a change and comes back; routers restart; two
// controllers race for a key. What must hold: every router converges to its intent, applies
// each generation once (its audit log says so), and keeps forwarding on what it applied while
// NATS is away.
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { NatsServer, waitFor } from './nats.js';
import { expectedState, intent, registryState, startController, startRouter, type TestController, type TestRouter } from './rig.js';
import { ConflictError } from '../../control/fleet/controller.js';
import type { NodeIntent } from '../../control/fleet/intent.js';

let nats: NatsServer;
const cleanup: Array<() => Promise<void>> = [];

beforeAll(async () => {
  nats = await NatsServer.start();
});
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f().catch(() => undefined);
  await nats.up();
});
afterAll(async () => {
  if (process.env.FLEET_DEBUG) console.log((await import('node:fs')).readFileSync(`${nats.dir}/server.log`, 'utf8').slice(-6000));
  await nats?.close();
});

async function routers(...nodes: string[]): Promise<TestRouter[]> {
  const out: TestRouter[] = [];
  for (const n of nodes) {
    const r = await startRouter(nats.url, n);
    cleanup.push(() => r.close());
    out.push(r);
  }
  return out;
}

async function controller(dir?: string): Promise<TestController> {
  const c = await startController(nats.url, dir);
  cleanup.push(() => c.close());
  await c.c.ready();
  return c;
}

const converged = (r: TestRouter, c: TestController) => () => {
  const row = c.store.node(r.node);
  return row !== undefined && r.store.applied()?.generation === row.generation;
};

/** Each generation applied at most once, in increasing order. */
function expectAppliedOnce(r: TestRouter): void {
  const gens = r.applies().map((a) => a.generation);
  expect(new Set(gens).size).toBe(gens.length);
  expect([...gens].sort((a, b) => a - b)).toEqual(gens);
}

describe('the fleet over NATS JetStream', () => {
  test('three routers converge after nats-server is killed mid-change, each generation applied once, and forward on their last intent meanwhile', async () => {
    const rs = await routers(`fa-${process.pid}`, `fb-${process.pid}`, `fc-${process.pid}`);
    const ctl = await controller();
    const first: NodeIntent = intent([['02:00:00:00:00:01', 'alpha'], ['02:00:00:00:00:0a', 'beta']], { alpha: { up: { rate: '100Mbit' } } });
    for (const r of rs) ctl.c.setIntent(r.node, first, 'test');
    await ctl.c.sync();
    for (const r of rs) await waitFor(`${r.node} applies generation 1`, converged(r, ctl));
    for (const r of rs) expect(registryState(r)).toEqual(expectedState(first));

    // The change: every node's subscribers move; NATS dies while it is being published.
    const second = intent([['02:00:00:00:00:01', 'beta'], ['02:00:00:00:00:0a', 'beta'], ['02:00:00:00:00:0b', 'alpha']]);
    for (const r of rs) ctl.c.setIntent(r.node, second, 'test');
    const publishing = ctl.c.sync();
    await nats.kill();
    await publishing;
    await new Promise((r) => setTimeout(r, 300));
    // Cut off: nothing is undone, the maps stay as they are, the daemon stays ready.
    const before = rs.map((r) => ({ maps: r.h.snapshot(), state: registryState(r), applied: r.store.applied()?.generation }));
    const third = intent([['02:00:00:00:00:0b', 'beta'], ['02:00:00:00:00:0c', 'alpha']], { beta: { down: { rate: '50Mbit' } } });
    ctl.c.setIntent(rs[1]!.node, third, 'test'); // committed at the controller, published when NATS is back
    await new Promise((r) => setTimeout(r, 1500));
    rs.forEach((r, i) => {
      expect(r.agent.status().connected).toBe(false);
      expect(r.h.snapshot()).toBe(before[i]!.maps);
      expect(registryState(r)).toEqual(before[i]!.state);
      expect(r.store.applied()?.generation).toBe(before[i]!.applied);
      expect(r.h.daemon.ready()).toBe(true);
    });
    // A local change still works while NATS is away (the fleet's next generation replaces it).
    await rs[0]!.h.daemon.editSubscribers('test', { op: 'assign', subscriber: { match: { mac: '02:00:00:00:00:77' }, isp: 'alpha' } });

    await nats.up();
    for (const r of rs) await waitFor(`${r.node} converges after NATS is back`, converged(r, ctl), 30_000);
    expect(registryState(rs[0]!)).toEqual(expectedState(second));
    expect(registryState(rs[1]!)).toEqual(expectedState(third));
    expect(registryState(rs[2]!)).toEqual(expectedState(second));
    for (const r of rs) expectAppliedOnce(r);
    expect(rs[1]!.applies().at(-1)!.generation).toBe(3);

    // Seen again (the poll, a redelivery): applies nothing.
    const counts = rs.map((r) => r.applies().length);
    const seen = rs.map((r) => r.agent.status().duplicates);
    await waitFor('every router reads its key again', () => rs.every((r, i) => r.agent.status().duplicates > seen[i]!));
    expect(rs.map((r) => r.applies().length)).toEqual(counts);

    // A router restarted applies nothing it applied before.
    const dir = rs[2]!.h.dir;
    await rs[2]!.stop();
    const again = await startRouter(nats.url, rs[2]!.node, dir);
    cleanup.push(() => again.close());
    await waitFor('the restarted router reads its key', () => again.agent.status().duplicates > 0);
    expect(again.applies().length).toBe(counts[2]);
    expect(again.store.applied()?.generation).toBe(ctl.store.node(again.node)!.generation);
    // Its reports, queued while NATS was away, went out.
    await waitFor('outboxes drained', () => rs.slice(0, 2).every((r) => r.store.pending() === 0) && again.store.pending() === 0);
  });

  test('a controller restart loses no intent: what it accepted while NATS was away is published after it restarts', async () => {
    const [r] = await routers(`fr-${process.pid}`);
    const ctl = await startController(nats.url);
    await ctl.c.ready();
    const dir = ctl.dir;
    cleanup.push(async () => (await import('node:fs')).rmSync(dir, { recursive: true, force: true }));
    await nats.kill();
    const i = intent([['02:00:00:00:00:01', 'beta'], ['02:00:00:00:00:02', 'alpha']]);
    const g = ctl.c.setIntent(r!.node, i, 'test');
    const out = await ctl.c.publish(r!.node);
    expect(out.state).toBe('pending');
    await ctl.close(true); // the controller goes away with the intent unpublished
    await nats.up();
    const back = await controller(dir);
    await waitFor('the restarted controller publishes and the router applies', () => r!.store.applied()?.generation === g);
    expect(registryState(r!)).toEqual(expectedState(i));
    expect(back.store.node(r!.node)!.publishedGeneration).toBe(g);
    expectAppliedOnce(r!);
  });

  test('a compare-and-set conflict with another controller is refused and marked; a lost acknowledgement is adopted; takeover writes over', async () => {
    const [r] = await routers(`fx-${process.pid}`);
    const a = await controller();
    const b = await controller();
    const node = r!.node;
    const ia = intent([['02:00:00:00:00:01', 'alpha']]);
    a.c.setIntent(node, ia, 'a');
    expect((await a.c.publish(node)).state).toBe('published');
    await waitFor('A applied', () => r!.store.applied()?.generation === 1);

    // B writes the same key without knowing A's revision: refused, nothing overwritten.
    b.c.setIntent(node, intent([['02:00:00:00:00:01', 'beta']]), 'b');
    const lost = await b.c.publish(node);
    expect(lost.state).toBe('conflict');
    expect(lost.state === 'conflict' && lost.error).toMatch(new RegExp(`written by controller ${a.store.id} at generation 1`));
    expect(b.store.node(node)!.conflict).toMatch(/not overwritten/);
    expect(b.store.events().map((e) => e.type)).toContain('fleet.conflict');
    expect(() => b.c.setIntent(node, ia, 'b')).toThrow(ConflictError);
    await new Promise((res) => setTimeout(res, 700));
    expect(registryState(r!)).toEqual(expectedState(ia));

    // A's own write whose revision it did not record (an acknowledgement lost): adopted, not a conflict.
    const ia2 = intent([['02:00:00:00:00:01', 'alpha'], ['02:00:00:00:00:02', 'beta']]);
    a.c.setIntent(node, ia2, 'a');
    expect((await a.c.publish(node)).state).toBe('published');
    const rev = a.store.node(node)!.publishedRevision;
    a.store.setRevision(node, rev - 1);
    const ia3 = intent([['02:00:00:00:00:02', 'alpha']]);
    a.c.setIntent(node, ia3, 'a');
    const adopted = await a.c.publish(node);
    expect(adopted.state).toBe('published');
    await waitFor('A generation 3 applied', () => r!.store.applied()?.generation === 3);

    // B takes over: its intent, numbered after A's, and the router applies it.
    const t = await b.c.takeover(node, 'b');
    expect(t.state).toBe('published');
    expect(t.generation).toBe(4);
    await waitFor('B applied after takeover', () => r!.store.applied()?.controller === b.store.id);
    expect(registryState(r!)).toEqual(expectedState(intent([['02:00:00:00:00:01', 'beta']])));
    // and now A is the one refused
    a.c.setIntent(node, ia, 'a');
    expect((await a.c.publish(node)).state).toBe('conflict');
    expectAppliedOnce(r!);
  });
});
