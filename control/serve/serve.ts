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
import { createHandler, formatListen, listen, metricsHandler, parseListen, type Listening, type TlsFiles } from '../api/server.js';
import { EventLog, WebhookStore } from '../registry/events.js';
import { WebhookSender } from '../events/webhooks.js';
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
import { Meter, subStatsSource } from '../daemon/meter.js';
import { UsageStore } from '../registry/usage.js';
import { checkConfig, type Config } from '../config/index.js';
import { SessionStore } from '../registry/sessions.js';
import { SessionManager } from '../sessions/manager.js';
import { SessionMetrics } from '../sessions/metrics.js';
import { RadiusClient } from '../radius/client.js';
import { startCoaListener, type CoaListener } from '../radius/coa.js';
import { Broker } from '../broker/broker.js';
import { SessionsGate } from '../broker/gate.js';
import { LdpHost } from '../daemon/ldp-host.js';
import { registerLdpMetrics } from '../ldp/metrics.js';
import { FleetStore } from '../registry/fleet.js';
import type { EventSink } from '../events/sink.js';
import { PolicerMonitor } from '../events/policer-monitor.js';
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
  /** TCP listeners speak HTTPS with this certificate and key (PEM), re-read on SIGHUP */
  tlsCert?: string;
  tlsKey?: string;
  /** clients must present a certificate signed by this CA (PEM) */
  tlsClientCa?: string;
  /** serve /metrics here instead of on the API */
  metricsListen?: string[];
  /** host names a plain-HTTP listener answers besides IP addresses and localhost */
  allowHost?: string[];
  /** webhook retries: first after minMs, doubling up to maxMs */
  webhookRetry?: { minMs: number; maxMs: number };
  /** events kept in the registry (older ones are pruned once no webhook is owed them) */
  keepEvents?: number;
  /** seconds between readings of the per-subscriber counters (default 60) */
  usageInterval?: number;
  /** LDP's UDP/TCP port (646; tests use another) */
  ldpPort?: number;
  /** policed packets per ISP and direction in 10 s from which a `policer.drops` event is told (default 1000) */
  policerEventThreshold?: number;
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
  const metricsAddresses = (o.metricsListen ?? []).map(parseListen);
  if ((o.tlsCert === undefined) !== (o.tlsKey === undefined)) throw new StartError('--tls-cert and --tls-key go together');
  if (o.tlsClientCa !== undefined && o.tlsCert === undefined) throw new StartError('--tls-client-ca needs --tls-cert and --tls-key');
  const readTls = async (): Promise<TlsFiles | undefined> => {
    if (o.tlsCert === undefined || o.tlsKey === undefined) return undefined;
    return { cert: await readFile(o.tlsCert), key: await readFile(o.tlsKey), ...(o.tlsClientCa ? { clientCa: await readFile(o.tlsClientCa) } : {}) };
  };
  let tls: TlsFiles | undefined;
  try {
    tls = await readTls();
  } catch (err) {
    throw new StartError(`cannot read the TLS files: ${(err as Error).message}`);
  }

  // The node name (and so the pin directory) comes from the router file: read and validate it
  // before loading, so an invalid file creates no pins. Its subscribers are left out here: they
  // belong to the registry (a file's list is only imported on a first start), and the daemon
  // validates the running config — file and registry together — once, at start (a million
  // subscribers take seconds to validate: once is enough).
  let node: string;
  let ldpEnabled = false;
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
    ldpEnabled = r.config.ldp?.enable === true;
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
  let meter: Meter;
  try {
    meter = Meter.open(new UsageStore(registry), subStatsSource(dp.map('sub_stats')), log.child({ part: 'meter' }));
  } catch (err) {
    dp.close();
    release();
    throw new StartError(`cannot open the usage meter: ${(err as Error).message}`);
  }
  const env = new HostEnv();
  const store = new SessionStore(registry);
  const pipeline = configPipeline({ env, meter, maps: () => ({ config: dp.configMaps(), labelStats: mapIO(dp.map('label_stats')) }) });
  const events = new EventLog(registry);
  // with --fleet, every event goes to the fleet's outbox as well (in the same transaction)
  const fleetStore = o.fleet ? new FleetStore(registry) : undefined;
  const fleetSink = fleetStore?.sink();
  const sink: EventSink = fleetSink ? { emit: (e) => (events.emit(e), fleetSink.emit(e)) } : events;
  const daemon = new Daemon<Config>({ configPath, pipeline, dataplane: dp, model: configModel, registry, events: sink, usage: meter, log: log.child({ part: 'daemon' }), admitted: () => store.admitted() });
  meter.attach({
    provisioned: () => ((daemon.runningRaw as { subscribers?: Array<{ name?: unknown }> } | undefined)?.subscribers ?? []).map((s) => String(s.name)),
    provisionedCount: () => ((daemon.runningRaw as { subscribers?: unknown[] } | undefined)?.subscribers ?? []).length,
    exclusive: (fn) => daemon.exclusive(fn),
  });
  // LDP: the labels of before a restart go into the first composition (nothing pinned changes);
  // the speaker starts once the daemon runs
  const ldp = ldpEnabled ? new LdpHost({ daemon, registry, events: daemon.events, log: log.child({ part: 'ldp' }), port: o.ldpPort }) : undefined;
  ldp?.prepare();
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
  if (ldp) {
    try {
      await ldp.start();
    } catch (err) {
      meter.stop();
      dp.close();
      release();
      throw new StartError(`cannot start the LDP speaker: ${(err as Error).message}`);
    }
  }
  // A first reading right away: what was counted while no daemon ran is credited now.
  try {
    await meter.read();
  } catch (err) {
    log.error({ err: String((err as Error).message ?? err) }, 'first usage reading failed; the next one catches up');
  }
  meter.start(Math.max(1, o.usageInterval ?? 60) * 1000);
  const programs = dp.programs();
  log.info({ node, programs: programs.map((p) => `${p.ifname}:${p.role}:${p.mode}`) }, 'data plane ready');


  const tokens = TokenStore.inDir(o.stateDir);
  await tokens.load();

  const metrics = new MetricsCollector(
    {
      readIspStats: () => dp.counters().ispStats(),
      readLabelStats: () => dp.counters().labelStats(),
      readDropStats: () => dp.counters().dropStats(),
      readIcmpStats: () => dp.counters().icmpStats?.() ?? [],
      ispNames: () => ispNames({ daemon, model: configModel, ifname: (i) => env.ifname(i) }),
      programs: () => (daemon.isDetached ? [] : dp.roleInfo()),
      tableEntries: () => daemon.tableSizes(),
      lastReconcile: () => ({ at: daemon.lastReconcile?.at ?? null, ok: daemon.lastReconcile?.ok ?? null }),
    },
    { onReadError: (map, err) => log.warn({ map, err: String(err) }, 'metrics: map read failed; family left out of this scrape') },
  );
  if (ldp) registerLdpMetrics(metrics.registry, () => ldp.stats(), () => ldp.isStale());

  const sessionMetrics = new SessionMetrics(metrics.registry, () => store.pendingCount(), () => store.openCounts());
  const sessions = new SessionManager({
    daemon: daemon as Daemon<unknown>,
    store,
    client: new RadiusClient({ badResponse: (reason) => sessionMetrics.badResponses.inc({ reason }) }),
    log: log.child({ part: 'sessions' }),
    metrics: sessionMetrics,
  });
  await sessions.start();
  let coa: CoaListener | undefined;
  try {
    const c = await startCoaListener(() => daemon.running, sessions, log.child({ part: 'coa' }), sessionMetrics);
    if (c) log.info({ address: c.address, port: c.port }, 'CoA/Disconnect listener ready');
    coa = c?.listener;
  } catch (err) {
    await sessions.stop();
    dp.close();
    release();
    throw new StartError(`cannot listen for CoA/Disconnect-Requests: ${(err as Error).message}`);
  }

  // The broker's key lives beside the registry; sessions a stop left half opened are taken back.
  let broker: Broker;
  try {
    // A brokered session with an ISP that admits by RADIUS opens a node session with it.
    const needsSession = (subscriber: string, isp: string): boolean =>
      registry.subscriber(subscriber)?.admission === 'session' && (daemon.running as Config | undefined)?.isps.some((i) => i.name === isp && i.radius !== undefined) === true;
    const gate = new SessionsGate(daemon as Daemon<unknown>, sessions, needsSession);
    broker = new Broker({ daemon: daemon as Daemon<unknown>, model: configModel, log: log.child({ part: 'broker' }), gate });
    await broker.start();
  } catch (err) {
    coa?.close();
    await sessions.stop();
    dp.close();
    release();
    throw new StartError(`cannot start the broker: ${(err as Error).message}`);
  }

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
      broker.stop();
      coa?.close();
      await sessions.stop();
      await ldp?.stop();
      dp.close();
      release();
      throw new StartError(`--fleet: ${(err as Error).message}`);
    }
  }

  let stopping: Promise<void> | undefined;
  let resolveStopped!: () => void;
  const stopped = new Promise<void>((r) => (resolveStopped = r));

  const sender = new WebhookSender(new WebhookStore(registry), events, log.child({ part: 'webhooks' }), o.webhookRetry ? { retryMinMs: o.webhookRetry.minMs, retryMaxMs: o.webhookRetry.maxMs } : {});
  const handler = createHandler({
    daemon,
    model: configModel,
    tokens,
    metrics,
    metricsElsewhere: metricsAddresses.length > 0,
    events,
    webhooksChanged: () => sender.refresh(),
    log: log.child({ part: 'api' }),
    ifname: (i) => env.ifname(i),
    onDetached: () => void stop('detached'),
    sessions,
    broker,
    ldp,
    fleet: agent,
  });
  let api: Listening | undefined;
  let metricsApi: Listening | undefined;
  try {
    api = await listen(handler, addresses, { tls, allowHosts: o.allowHost });
    if (metricsAddresses.length) metricsApi = await listen(metricsHandler(metrics, log), metricsAddresses, { allowHosts: o.allowHost });
  } catch (err) {
    broker.stop();
    coa?.close();
    await sessions.stop();
    await ldp?.stop();
    await api?.close();
    dp.close();
    release();
    throw new StartError(`cannot listen on ${[...addresses, ...metricsAddresses].map((a) => formatListen(a)).join(', ')}: ${(err as Error).message}`);
  }
  const listening = api;
  log.info({ listen: api.bound.map((a) => formatListen(a, tls !== undefined)), token: tokens.path, clientCerts: tls?.clientCa !== undefined }, 'API listening');
  if (metricsApi) log.info({ listen: metricsApi.bound.map((a) => formatListen(a)) }, 'metrics listening');
  sender.start();
  // an ISP's policer dropping more than a threshold per interval is told as an event
  const policerMonitor = new PolicerMonitor({
    read: () => dp.counters().ispStats(),
    ispName: (i) => ispNames({ daemon, model: configModel, ifname: (x) => env.ifname(x) }).get(i),
    events: sink,
    threshold: o.policerEventThreshold ?? 1000,
    intervalMs: 10_000,
    log: log.child({ part: 'policer-monitor' }),
  });
  policerMonitor.start();
  const keepEvents = o.keepEvents ?? 100_000;
  const pruner = setInterval(() => {
    try {
      events.prune(keepEvents);
    } catch (err) {
      log.warn({ err: String(err) }, 'pruning old events failed');
    }
  }, 60_000);
  pruner.unref();
  agent?.start();

  const watcher = o.watch ? watchConfig(configPath, () => void daemon.reload('file change')) : undefined;
  const onHup = (): void => {
    log.info('SIGHUP: reloading the config');
    void daemon.reload('SIGHUP');
    if (tls) {
      // a renewed certificate: new connections get it, open ones keep theirs
      readTls()
        .then((t) => {
          listening.reloadTls(t!); // throws on a key that does not fit the certificate
          tls = t;
          log.info({ cert: o.tlsCert }, 'SIGHUP: TLS certificate reloaded');
        })
        .catch((err) => log.error({ err: String((err as Error).message ?? err) }, 'SIGHUP: cannot use the TLS files; keeping the current certificate'));
    }
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
      await ldp?.stop();
      broker.stop();
      await broker.idle();
      coa?.close();
      await sessions.stop();
      clearInterval(pruner);
      sender.stop();
      policerMonitor.stop();
      await listening.close();
      await metricsApi?.close();
      meter.stop();
      if (!daemon.isDetached) {
        // the last reading: everything counted so far is in the registry when serve returns
        await meter.read().catch((err) => log.error({ err: String((err as Error).message ?? err) }, 'last usage reading failed; the next start catches up'));
      }
      if (!daemon.isDetached) dp.close();
      release();
      resolveStopped();
    })();
    return stopping;
  }

  await stopped;
}
