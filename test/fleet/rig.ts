// Routers and controllers for the fleet's tests: in-memory daemons (test/api/fakes.ts, the real
// daemon, pipeline and registry over fake maps) each with a real fleet agent, and controllers
// with real stores, all talking to a real nats-server.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CONFIG, startHarness, type Harness } from '../api/fakes.js';
import { FleetAgent } from '../../control/fleet/agent.js';
import { Controller } from '../../control/fleet/controller.js';
import { ControllerStore } from '../../control/fleet/store.js';
import type { Tolerance } from '../../control/fleet/accounting.js';
import { FleetStore } from '../../control/registry/fleet.js';
import { configModel } from '../../control/daemon/config-model.js';
import { stats } from '../../control/daemon/views.js';
import { createLogger, silentLogger } from '../../control/log.js';
const testLog = () => (process.env.FLEET_DEBUG ? createLogger({ level: 'debug' }) : silentLogger());
import type { NodeIntent } from '../../control/fleet/intent.js';

export interface TestRouter {
  node: string;
  h: Harness;
  store: FleetStore;
  agent: FleetAgent;
  /** the fleet.apply records of its audit log, oldest first */
  applies(): Array<{ generation: number; revision: number }>;
  /** stops agent and daemon, keeps the directory */
  stop(): Promise<void>;
  close(): Promise<void>;
}

export function routerConfig(node: string): string {
  return CONFIG.replace('node: test', `node: ${node}`);
}

export async function startRouter(url: string, node: string, dir?: string): Promise<TestRouter> {
  const h = await startHarness(routerConfig(node), { node, ...(dir ? { dir, configPath: join(dir, 'router.yaml') } : {}) });
  const store = new FleetStore(h.registry);
  const agent = new FleetAgent({
    url,
    node,
    daemon: h.daemon,
    store,
    counters: () => stats({ daemon: h.daemon, model: configModel, ifname: () => 'x' }),
    log: testLog(),
    pollMs: 300,
    statusMs: 300,
  });
  agent.start();
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await agent.stop();
    await h.stop();
  };
  return {
    node,
    h,
    store,
    agent,
    applies: () =>
      h.registry
        .auditLog({ after: 0, limit: 10_000 })
        .filter((a) => a.action === 'fleet.apply')
        .map((a) => ({ generation: (a.detail as { generation: number }).generation, revision: (a.detail as { revision: number }).revision })),
    stop,
    async close() {
      await stop();
      rmSync(h.dir, { recursive: true, force: true });
    },
  };
}

export interface TestController {
  c: Controller;
  store: ControllerStore;
  dir: string;
  close(keep?: boolean): Promise<void>;
}

export async function startController(url: string, dir = mkdtempSync(join(tmpdir(), 'fecflow-ctl-')), tolerance?: Tolerance): Promise<TestController> {
  const store = ControllerStore.open(join(dir, 'controller.sqlite'));
  const c = new Controller({ store, url, log: testLog(), syncMs: 200, tolerance });
  c.start();
  return {
    c,
    store,
    dir,
    async close(keep = false) {
      await c.stop();
      store.close();
      if (!keep) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Subscribers in the API's terms, on the harness's access port. */
export function intent(subs: Array<[mac: string, isp: string]>, rates: NodeIntent['rates'] = {}): NodeIntent {
  return { subscribers: subs.map(([mac, isp], i) => ({ match: { mac }, isp, name: `sub${i}` })), rates };
}

/** The router's registry as the fleet sees it: subscribers (mac → ISP) and rate overrides. */
export function registryState(r: TestRouter): { subscribers: Record<string, string>; rates: unknown } {
  const subscribers: Record<string, string> = {};
  for (const s of r.h.registry.subscribers()) subscribers[String((s.match as { mac?: string }).mac)] = String(s.isp);
  return { subscribers, rates: Object.fromEntries(r.h.registry.rates()) };
}

export function expectedState(i: NodeIntent): { subscribers: Record<string, string>; rates: unknown } {
  const subscribers: Record<string, string> = {};
  for (const s of i.subscribers) subscribers[(s.match as { mac: string }).mac] = s.isp;
  return { subscribers, rates: i.rates };
}
