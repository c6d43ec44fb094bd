// `fecflow serve`, the composition root above the daemon and the API (neither imports the other's
// way back up): lock the node, open its registry, load the object, adopt or attach the
// programs, converge the maps to router file + registry, then serve the API and /metrics until
// SIGTERM/SIGINT (or a detach). SIGHUP and edits of the router file reload it. Stopping leaves
// the pins — and so forwarding — in place.
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { LockError, NodeLock } from '../registry/lock.js';
import { Registry, RegistryError, registryPath } from '../registry/registry.js';
import { createLogger, type Logger } from '../log.js';
import { createHandler, formatListen, listen, parseListen } from '../api/server.js';
import { MetricsCollector } from '../metrics/collector.js';
import { BpfDataplane, mapIO } from '../daemon/bpf-dataplane.js';
import { configModel } from '../daemon/config-model.js';
import { Daemon } from '../daemon/daemon.js';
import { DaemonError } from '../daemon/errors.js';
import { HostEnv } from '../daemon/netenv.js';
import { TokenStore } from '../daemon/token.js';
import { ispNames } from '../daemon/views.js';
import { watchConfig } from '../daemon/watch.js';
import { configPipeline, parseConfigText } from '../daemon/wiring.js';
import { checkConfig, type Config } from '../config/index.js';
import { FleetStore } from '../registry/fleet.js';
import { stats } from '../daemon/views.js';

export interface ServeOptions {
  config: string;
  listen: string[];
  pinRoot: string;
  stateDir: string;
  object: string;
  watch: boolean;
  logLevel?: string;
  xdpMode?: 'auto' | 'native' | 'generic';
  /** nats://HOST:PORT: take this node's intent from the fleet (nothing of NATS is loaded without it) */
  fleet?: string;
  /** the node's key in the fleet (default: the router file's node) */
  fleetNode?: string;
}

export const DEFAULT_PIN_ROOT = '/sys/fs/bpf/fecflow';
export const DEFAULT_STATE_DIR = '/var/lib/fecflow';
export const DEFAULT_LISTEN = '127.0.0.1:9180';

export class StartError extends Error {}

/** Runs the daemon; resolves when it has stopped. Throws StartError if it cannot start. */
export async function serve(o: ServeOptions, log: Logger = createLogger({ level: o.logLevel })): Promise<void> {
  const configPath = resolve(o.config);
  const addresses = (o.listen.length ? o.listen : [DEFAULT_LISTEN]).map(parseListen);

  // The node name (and so the pin directory) comes from the router file: read and validate it
  // before loading, so an invalid file creates no pins. Its subscribers are left out here: they
  // belong to the registry (a file's list is only imported on a first start), and the daemon
  // validates the running config — file and registry together — once, at start (a million
  // subscribers take seconds to validate: once is enough).
  let node: string;
  let preread: { text: string; raw: unknown };
  try {
    const text = await readFile(configPath, 'utf8');
    const raw = parseConfigText(text);
    const r = checkConfig(raw !== null && typeof raw === 'object' && !Array.isArray(raw) ? { ...raw, subscribers: [] } : raw);
    if (!r.config) {
      for (const i of r.issues) log.error({ path: i.path, message: i.message }, 'config issue');
      throw new StartError(`${configPath} is invalid (${r.issues.length} problem(s), logged above)`);
    }
    node = r.config.node;
    preread = { text, raw };
  } catch (err) {
    if (err instanceof StartError) throw err;
    throw new StartError(`cannot load ${configPath}: ${(err as Error).message}`);
  }

  // One writer per node: the lock comes before the first pin is opened, so a second daemon
  // for this node stops here, having touched nothing.
  let lock: NodeLock;
  try {
    lock = NodeLock.forNode({ stateDir: o.stateDir, pinDir: join(o.pinRoot, node), node });
  } catch (err) {
    if (err instanceof LockError) throw new StartError(err.message);
    throw new StartError(`cannot lock node '${node}' in ${o.stateDir}: ${(err as Error).message}`);
  }
  let registry: Registry;
  try {
    registry = Registry.open(registryPath(o.stateDir, node), { check: true });
  } catch (err) {
    lock.release();
    throw new StartError(err instanceof RegistryError ? err.message : `cannot open the registry: ${(err as Error).message}`);
  }
  const release = (): void => {
    registry.close();
    lock.release();
  };

  // A first start imports the file's subscribers: they are checked here, with the rest of the
  // file, so a bad list creates no pins either. Later starts take subscribers from the registry
  // and the daemon validates the running config once.
  let validated: Config | undefined;
  if (registry.meta('initialized') === undefined) {
    const full = checkConfig(preread.raw);
    if (!full.config) {
      for (const i of full.issues) log.error({ path: i.path, message: i.message }, 'config issue');
      release();
      throw new StartError(`${configPath} is invalid (${full.issues.length} problem(s), logged above)`);
    }
    validated = full.config;
  }

  let dp: BpfDataplane;
  try {
    dp = BpfDataplane.open({ objectPath: resolve(o.object), pinRoot: o.pinRoot, node, log, xdpMode: o.xdpMode });
  } catch (err) {
    release();
    throw new StartError(`cannot load ${o.object}: ${(err as Error).message}`);
  }
  const env = new HostEnv();
  const pipeline = configPipeline({ env, maps: () => ({ config: dp.configMaps(), labelStats: mapIO(dp.map('label_stats')) }) });
  const fleetStore = o.fleet ? new FleetStore(registry) : undefined;
  const daemon = new Daemon<Config>({ configPath, pipeline, dataplane: dp, model: configModel, registry, events: fleetStore?.sink(), log: log.child({ part: 'daemon' }) });
  try {
    await daemon.start({ ...preread, validated });
    // After an upgrade that changed map layouts, the state is now in the new maps: switch.
    await dp.completeMigration();
  } catch (err) {
    if (err instanceof DaemonError) for (const i of err.issues) log.error({ path: i.path, message: i.message }, 'config issue');
    dp.close();
    release();
    throw new StartError(`cannot start: ${(err as Error).message}`);
  }
  log.info({ registry: registry.path, subscribers: registry.subscriberCount() }, 'registry open');
  const programs = dp.programs();
  log.info({ node, programs: programs.map((p) => `${p.ifname}:${p.role}:${p.mode}`) }, 'data plane ready');

  const tokens = TokenStore.inDir(o.stateDir);
  await tokens.load();

  const metrics = new MetricsCollector(
    {
      readIspStats: () => dp.counters().ispStats(),
      readLabelStats: () => dp.counters().labelStats(),
      readDropStats: () => dp.counters().dropStats(),
      ispNames: () => ispNames({ daemon, model: configModel, ifname: (i) => env.ifname(i) }),
      programs: () => (daemon.isDetached ? [] : dp.roleInfo()),
      tableEntries: () => daemon.tableSizes(),
      lastReconcile: () => ({ at: daemon.lastReconcile?.at ?? null, ok: daemon.lastReconcile?.ok ?? null }),
    },
    { onReadError: (map, err) => log.warn({ map, err: String(err) }, 'metrics: map read failed; family left out of this scrape') },
  );

  // The fleet's client is loaded only for a router in a fleet. It starts after the daemon
  // converged to file + registry, and never holds the start up: NATS may be away.
  let agent: { start(): void; stop(): Promise<void>; status(): unknown } | undefined;
  if (o.fleet && fleetStore) {
    const { FleetAgent } = await import('../fleet/agent.js');
    try {
      agent = new FleetAgent({
        url: o.fleet,
        node: o.fleetNode ?? node,
        daemon: daemon as Daemon<unknown>,
        store: fleetStore,
        counters: () => stats({ daemon: daemon as Daemon<unknown>, model: configModel, ifname: (i) => env.ifname(i) }),
        log: log.child({ part: 'fleet' }),
      });
    } catch (err) {
      dp.close();
      release();
      throw new StartError(`--fleet: ${(err as Error).message}`);
    }
  }

  let stopping: Promise<void> | undefined;
  let resolveStopped!: () => void;
  const stopped = new Promise<void>((r) => (resolveStopped = r));

  const handler = createHandler({
    daemon,
    model: configModel,
    tokens,
    metrics,
    log: log.child({ part: 'api' }),
    ifname: (i) => env.ifname(i),
    onDetached: () => void stop('detached'),
    fleet: agent,
  });
  let api: Awaited<ReturnType<typeof listen>>;
  try {
    api = await listen(handler, addresses);
  } catch (err) {
    dp.close();
    release();
    throw new StartError(`cannot listen on ${addresses.map(formatListen).join(', ')}: ${(err as Error).message}`);
  }
  log.info({ listen: api.bound.map(formatListen), token: tokens.path }, 'API listening');
  agent?.start();

  const watcher = o.watch ? watchConfig(configPath, () => void daemon.reload('file change')) : undefined;
  const onHup = (): void => {
    log.info('SIGHUP: reloading the config');
    void daemon.reload('SIGHUP');
  };
  const onTerm = (sig: string) => () => void stop(sig);
  const term = onTerm('SIGTERM');
  const int = onTerm('SIGINT');
  process.on('SIGHUP', onHup);
  process.on('SIGTERM', term);
  process.on('SIGINT', int);

  function stop(why: string): Promise<void> {
    stopping ??= (async () => {
      log.info({ why }, daemon.isDetached ? 'stopping (detached)' : 'stopping; the programs stay attached through their pins');
      process.off('SIGHUP', onHup);
      process.off('SIGTERM', term);
      process.off('SIGINT', int);
      watcher?.close();
      await agent?.stop();
      await api.close();
      if (!daemon.isDetached) dp.close();
      release();
      resolveStopped();
    })();
    return stopping;
  }

  await stopped;
}
