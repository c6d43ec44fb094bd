// Fakes for the daemon's ports: a data plane that records what was attached and holds counter
// rows, and a pipeline over the real config schema and compiler with a fixed set of interfaces
// and in-memory maps. The daemon, the API and the CLI then run unchanged, without root.
import { Registry, registryPath } from '../../control/registry/registry.js';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { staticEnv } from '../../control/compile/index.js';
import { createHandler, listen, type ListenAddress, type ListenOptions } from '../../control/api/server.js';
import { EventLog } from '../../control/registry/events.js';
import { TokenRegistry } from '../../control/registry/tokens.js';
import { configModel } from '../../control/daemon/config-model.js';
import { Daemon } from '../../control/daemon/daemon.js';
import type { MapIO } from '../../control/reconcile/index.js';
import type { AttachedProgram, CounterReader, Dataplane, InterfaceRole } from '../../control/daemon/ports.js';
import { TokenStore } from '../../control/daemon/token.js';
import { configPipeline } from '../../control/daemon/wiring.js';
import { Meter, type CounterSource } from '../../control/daemon/meter.js';
import { USAGE_BYTES, UsageStore } from '../../control/registry/usage.js';
import { FF_METER_SLOTS } from '../../control/tables/shared.gen.js';
import { HostEnv } from '../../control/daemon/netenv.js';
import { MetricsCollector } from '../../control/metrics/collector.js';
import { MAPS, CONFIG_MAPS } from '../../control/tables/layout.js';
import { silentLogger } from '../../control/log.js';
import { Broker, type BrokerOptions } from '../../control/broker/broker.js';
import type { UsageMeter } from '../../control/daemon/usage.js';
import type { DropCounterRow, IspCounterRow, LabelCounterRow } from '../../control/metrics/collector.js';
import { SessionStore } from '../../control/registry/sessions.js';
import { SessionManager } from '../../control/sessions/manager.js';
import { SessionMetrics } from '../../control/sessions/metrics.js';
import { RadiusClient } from '../../control/radius/client.js';
import { startCoaListener } from '../../control/radius/coa.js';
import type { Config } from '../../control/config/index.js';

export const CONFIG = `node: test
interfaces:
  - name: acc
    role: access
  - name: core
    role: core
    neighbours:
      lsr: "02:00:00:00:00:99"
isps:
  - id: 1
    name: alpha
    upstream:
      labels: [100]
      nexthop: { interface: core, neighbour: lsr }
  - id: 2
    name: beta
    upstream:
      labels: [200]
      nexthop: { interface: core, neighbour: lsr }
subscribers:
  - name: s1
    isp: alpha
    match: { mac: "02:00:00:00:00:01" }
ilm:
  - label: 1000
    action: pop-forward
    nexthop: { interface: core, neighbour: lsr }
`;

/** An in-memory map keyed by the hex of the key. */
/** The data plane's per-subscriber counters, in memory, as many slots as the real map has: all
 * zero (nothing forwards in the harness), so none is kept. */
export class MemCounters implements CounterSource {
  readonly slots = FF_METER_SLOTS;
  identity(): string {
    return 'memory/1';
  }
  read(_from: number, count: number): Buffer {
    return Buffer.alloc(count * USAGE_BYTES);
  }
}

export class MemMap implements MapIO {
  readonly data = new Map<string, Buffer>();
  writes = 0;
  failNext = false;
  constructor(
    readonly name: string,
    readonly kind: 'hash' | 'array',
    readonly valueSize: number,
  ) {}
  entries(): Array<[Buffer, Buffer]> {
    return [...this.data].map(([k, v]) => [Buffer.from(k, 'hex'), v]);
  }
  setMany(e: ReadonlyArray<readonly [Buffer, Buffer]>): void {
    if (this.failNext) {
      this.failNext = false;
      throw new Error(`injected write failure on ${this.name}`);
    }
    for (const [k, v] of e) {
      this.data.set(k.toString('hex'), Buffer.from(v));
      this.writes++;
    }
  }
  deleteMany(keys: readonly Buffer[]): number {
    let n = 0;
    for (const k of keys) if (this.data.delete(k.toString('hex'))) n++;
    this.writes += keys.length;
    return n;
  }
  snapshot(): string {
    return JSON.stringify([...this.data].map(([k, v]) => [k, v.toString('hex')]).sort());
  }
}

export class FakeDataplane implements Dataplane {
  attached: AttachedProgram[] = [];
  syncs = 0;
  detached = false;
  isp: IspCounterRow[] = [];
  labels: LabelCounterRow[] = [];
  drops: DropCounterRow[] = [];
  failRead = new Set<string>();
  async sync(interfaces: InterfaceRole[]): Promise<AttachedProgram[]> {
    this.syncs++;
    this.attached = interfaces.map((i, n) => ({ ifname: i.ifname, role: i.role, mode: 'native', progId: 10 + n, tag: `tag${i.role}`, reused: false }));
    return this.attached;
  }
  programs(): AttachedProgram[] {
    return this.attached;
  }
  roleInfo() {
    return this.attached.map((p) => ({ role: p.role, id: p.progId, tag: p.tag }));
  }
  counters(): CounterReader {
    const guard = <T>(name: string, v: T): T => {
      if (this.failRead.has(name)) throw new Error(`injected read failure on ${name}`);
      return v;
    };
    return { ispStats: () => guard('isp_stats', this.isp), labelStats: () => guard('label_stats', this.labels), dropStats: () => guard('drop_stats', this.drops) };
  }
  async detach(): Promise<void> {
    this.detached = true;
    this.attached = [];
  }
  close(): void {}
}

export interface Harness {
  dir: string;
  configPath: string;
  token: string;
  daemon: Daemon<unknown>;
  dp: FakeDataplane;
  maps: Map<string, MemMap>;
  tokens: TokenStore;
  metrics: MetricsCollector;
  handler: (req: IncomingMessage, res: ServerResponse) => void;
  url: string;
  socket: string;
  /** subscriber edits the fast path planned (valid or not), and those it left to the full path */
  fast: { planned: number; declined: number };
  snapshot(): string;
  registry: Registry;
  /** the daemon's event sink */
  events: EventLog;
  /** the registry's API tokens */
  apiTokens: TokenRegistry;
  /** makes a token with this role and returns its secret */
  mint(role: string, name?: string): string;
  sessions: SessionManager;
  sessionMetrics: SessionMetrics;
  broker: Broker;
  /** the per-subscriber meters (their slots are what a fresh compile must use to compare) */
  meter: Meter;
  /** stops serving and closes the registry, keeping the directory (for a restart) */
  stop(): Promise<void>;
  close(): Promise<void>;
}

/** The daemon answers /readyz once the subscriber edit indexes are built, just after start. */
export async function waitReady(daemon: Daemon<unknown>): Promise<void> {
  for (let i = 0; i < 500 && !daemon.ready(); i++) await new Promise((r) => setTimeout(r, 2));
}

export interface HarnessOptions {
  /** take the pipeline's subscriber fast path (default true); false: every edit is a full one */
  fastPath?: boolean;
  /** run on this existing config file instead of writing `config` to a new one */
  configPath?: string;
  /** run on this directory (its registry, token) instead of a new one: a restart */
  dir?: string;
  /** the host's interfaces (default: acc and core) */
  devices?: Array<{ name: string; ifindex: number; mac: string; mtu: number }>;
  /** the node name the registry is kept under (default 'test') */
  node?: string;
  /** how the API listens (TLS, allowed hosts) */
  listen?: ListenOptions;
  /** serve /metrics elsewhere (the API answers 404 for it) */
  metricsElsewhere?: boolean;
  /** the per-subscriber meters the daemon reads */
  usage?: UsageMeter;
  /** ms between the session manager's checks (default 1000) */
  sessionTickMs?: number;
  /** options of the broker (its clock, gate, tick) */
  broker?: Partial<BrokerOptions>;
  /** false: compile without per-subscriber meter slots (entries carry no meter word) */
  meter?: boolean;
}

export async function startHarness(config = CONFIG, opts: HarnessOptions = {}): Promise<Harness> {
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'fecflow-api-'));
  const configPath = opts.configPath ?? join(dir, 'router.yaml');
  if (!opts.configPath) writeFileSync(configPath, config);
  const maps = new Map<string, MemMap>();
  for (const name of CONFIG_MAPS) {
    const kind = ['fec_up', 'nh_group', 'nexthop', 'policer', 'settings'].includes(name) ? 'array' : 'hash';
    const l = MAPS[name];
    maps.set(name, new MemMap(name, kind, (l.value as { size: number }).size));
  }
  const labelStats = new MemMap('label_stats', 'hash', 32);
  const devices = opts.devices ?? [
    { name: 'acc', ifindex: 2, mac: '02:00:00:00:01:01', mtu: 1500 },
    { name: 'core', ifindex: 3, mac: '02:00:00:00:01:02', mtu: 1500 },
  ];
  const env = new HostEnv(() => devices);
  void staticEnv;
  const dp = new FakeDataplane();
  const registry = Registry.open(registryPath(join(dir, 'state'), opts.node ?? 'test'), { check: true });
  // per-subscriber meters over in-memory counters, as serve has them over the data plane's map:
  // they hand out the slots a subscriber's own rate needs
  const counters = new MemCounters();
  const meter = Meter.open(new UsageStore(registry), counters, silentLogger());
  const full = configPipeline({ env, meter: opts.meter === false ? undefined : meter, maps: () => ({ config: [...maps.values()], labelStats }) });
  const fast = { planned: 0, declined: 0 };
  const pipeline =
    opts.fastPath === false
      ? { ...full, planSubscribers: undefined }
      : {
          ...full,
          async planSubscribers(...args: Parameters<NonNullable<typeof full.planSubscribers>>) {
            const r = await full.planSubscribers!(...args);
            if (r) fast.planned++;
            else fast.declined++;
            return r;
          },
        };
  const events = new EventLog(registry);
  const store = new SessionStore(registry);
  const daemon = new Daemon({
    configPath,
    pipeline,
    dataplane: dp,
    model: configModel,
    registry,
    events,
    log: silentLogger(),
    usage: opts.usage ?? meter,
    admitted: () => store.admitted(),
  }) as Daemon<unknown>;
  meter.attach({
    provisioned: () => ((daemon.runningRaw as { subscribers?: Array<{ name?: unknown }> } | undefined)?.subscribers ?? []).map((x) => String(x.name)),
    provisionedCount: () => ((daemon.runningRaw as { subscribers?: unknown[] } | undefined)?.subscribers ?? []).length,
    exclusive: (fn) => daemon.exclusive(fn),
  });
  await daemon.start();
  await waitReady(daemon);
  const tokens = TokenStore.inDir(join(dir, 'state'));
  await tokens.load();
  const metrics = new MetricsCollector(
    {
      readIspStats: () => dp.counters().ispStats(),
      readLabelStats: () => dp.counters().labelStats(),
      readDropStats: () => dp.counters().dropStats(),
      ispNames: () => new Map(configModel.isps(daemon.runningRaw).map((i) => [i.index, i.name])),
      programs: () => dp.roleInfo(),
      tableEntries: () => daemon.tableSizes(),
      lastReconcile: () => ({ at: daemon.lastReconcile?.at ?? null, ok: daemon.lastReconcile?.ok ?? null }),
    },
    { defaultMetrics: false },
  );
  const sessionMetrics = new SessionMetrics(metrics.registry, () => store.pendingCount(), () => store.openCounts());
  const sessions = new SessionManager({
    daemon,
    store,
    client: new RadiusClient({ badResponse: (reason) => sessionMetrics.badResponses.inc({ reason }) }),
    log: silentLogger(),
    metrics: sessionMetrics,
    tickMs: opts.sessionTickMs,
  });
  await sessions.start();
  const coa = await startCoaListener(() => daemon.running as Config | undefined, sessions, silentLogger(), sessionMetrics);
  const broker = new Broker({ daemon, model: configModel, log: silentLogger(), tickMs: 0, ...opts.broker });
  await broker.start();
  const handler = createHandler({ daemon, model: configModel, tokens, metrics, metricsElsewhere: opts.metricsElsewhere, log: silentLogger(), ifname: (i) => env.ifname(i), sessions, broker });
  const socket = join(dir, 'api.sock');
  const addrs: ListenAddress[] = [{ kind: 'tcp', host: '127.0.0.1', port: 0 }, { kind: 'unix', path: socket }];
  const srv = await listen(handler, addrs, opts.listen);
  const tcp = srv.bound[0] as { port: number };
  const token = (await import('node:fs')).readFileSync(tokens.path, 'utf8').trim();
  const apiTokens = new TokenRegistry(registry);
  let minted = 0;
  return {
    dir,
    configPath,
    token,
    daemon,
    dp,
    maps,
    tokens,
    metrics,
    handler,
    url: `${opts.listen?.tls ? 'https' : 'http'}://127.0.0.1:${tcp.port}`,
    socket,
    fast,
    snapshot: () => [...maps.values()].map((m) => `${m.name}=${m.snapshot()}`).join('\n'),
    registry,
    events,
    apiTokens,
    mint: (role, name = `t${++minted}-${role.replace(/[^A-Za-z0-9]/g, '-')}`) => registry.transaction(() => apiTokens.create(name, role, 'test').secret),
    sessions,
    sessionMetrics,
    broker,
    meter,
    async stop() {
      coa?.listener.close();
      await sessions.stop();
      meter.stop();
      await srv.close();
      broker.stop();
      await broker.idle();
      registry.close();
    },
    async close() {
      coa?.listener.close();
      await sessions.stop();
      meter.stop();
      await srv.close();
      broker.stop();
      await broker.idle();
      registry.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** fetch() against the harness with JSON in and out. */
export async function call(h: Harness, method: string, path: string, body?: unknown, token: string | null = h.token) {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(h.url + path, { method, headers, body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body) });
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, json, text, headers: res.headers };
}
