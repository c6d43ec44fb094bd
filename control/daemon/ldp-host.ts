// The daemon's LDP speaker: started by `fecflow serve` when the router file has `ldp:` enabled.
// It gives the speaker the FECs this node is egress for (./ldp-tables.ts) and the kernel's
// routes, and turns what the speaker learns into LDP's tables, which the daemon composes into
// the running config and commits like any change: recorded in the registry first, then written
// to the maps by the reconciler (make-before-break), and only then advertised to peers.
//
// A restart keeps forwarding: the tables last committed are in the registry and go into the
// first composition unchanged, so the pinned maps are not touched; FECs take their old local
// labels again; entries not refreshed are removed once every neighbour that had a session
// before is OPERATIONAL again and its mappings have settled, or after staleTimeout.
import type { Logger } from '../log.js';
import type { Config } from '../config/types.js';
import type { EventInput, EventSink } from '../events/sink.js';
import type { Registry } from '../registry/registry.js';
import type { FecChange, BindingView } from '../ldp/lib.js';
import { LdpSpeaker, type DiscoveryView, type NeighborView, type SpeakerStats } from '../ldp/speaker.js';
import type { Daemon } from './daemon.js';
import { KernelRoutes } from './kernel-routes.js';
import { EMPTY_TABLES, applyTables, egressPrefixes, ldpTables, nextHopFor, withStale, type LdpTables } from './ldp-tables.js';

/** The registry key of what LDP last committed (JSON of SavedState). */
export const LDP_STATE_KEY = 'ldp.state';

interface SavedState {
  tables: LdpTables;
  /** prefix -> local label, taken again after a restart */
  localLabels: Record<string, number>;
  /** neighbours with an OPERATIONAL session when this was saved */
  peers: string[];
  at: string;
}

export interface SessionChange {
  neighborId: string;
  from: string;
  to: string;
  why: string;
}

/** The event of a session transition: up when it reaches OPERATIONAL, down when it leaves it;
 * none for the steps of establishment. */
export function neighborEvent(s: SessionChange, transportAddress: string | null): EventInput | undefined {
  const up = s.to === 'OPERATIONAL';
  const down = s.from === 'OPERATIONAL' && !up;
  if (!up && !down) return undefined;
  return { type: up ? 'ldp.neighbor.up' : 'ldp.neighbor.down', subject: s.neighborId, data: { transportAddress, from: s.from, to: s.to, reason: s.why } };
}

/** After every neighbour of before a restart is back, how long its mappings get to arrive. */
const SETTLE_MS = 3000;

export interface LdpStatus {
  lsrId: string;
  transportAddress: string;
  stale: { since: string; peersAwaited: string[]; removeBy: string } | null;
  tables: LdpTables;
}

export class LdpHost {
  private speaker?: LdpSpeaker;
  private readonly routes = new KernelRoutes();
  private readonly fecs = new Map<string, FecChange>();
  private tables: LdpTables = EMPTY_TABLES;
  private stale: { tables: LdpTables; peers: Set<string>; since: number; until: number; allUpAt?: number } | undefined;
  private staleTimer?: ReturnType<typeof setInterval>;
  private saved: SavedState | undefined;
  private egress = '';
  private stopped = false;
  /** the ldp section the speaker was started with */
  private started: Config['ldp'];
  /** the changed ldp section last warned about */
  private warned = '';

  constructor(
    private readonly o: {
      daemon: Daemon<Config>;
      registry: Registry;
      events: EventSink;
      log: Logger;
      /** UDP/TCP port (646 unless a test says otherwise) */
      port?: number;
    },
  ) {}

  /** The running config (with its `ldp:` as of the last reload; turning LDP off or changing
   * the speaker's identity or interfaces takes a restart). */
  private get config(): Config {
    const c = this.o.daemon.running;
    if (!c) throw new Error('the daemon has no running config');
    return c;
  }

  private get ldp(): NonNullable<Config['ldp']> {
    const l = this.config.ldp ?? this.started;
    if (!l) throw new Error('the running config has no ldp section');
    return l;
  }

  /**
   * Before the daemon's first commit: LDP's tables of before the restart join the running
   * config as they were, so the start rewrites nothing the maps already hold.
   */
  prepare(): void {
    const text = this.o.registry.meta(LDP_STATE_KEY);
    if (text) {
      try {
        this.saved = JSON.parse(text) as SavedState;
        this.tables = this.saved.tables;
      } catch (err) {
        this.o.log.warn({ err: String(err) }, 'ldp: the saved label state is unreadable; starting without it');
      }
    }
    this.o.daemon.setOverlay((raw) => applyTables(raw, this.tables));
  }

  /** After the daemon's first commit: the speaker, the route watch, the stale timer. */
  async start(): Promise<void> {
    const cfg = this.config;
    const l = this.ldp;
    this.started = l;
    const devices = l.interfaces.map((n) => cfg.interfaces.find((i) => i.name === n)?.device ?? n);
    try {
      await this.routes.refresh();
    } catch (err) {
      this.o.log.warn({ err: String(err) }, 'ldp: cannot read the kernel routes yet');
    }
    const saved = this.saved;
    if (saved) {
      const now = Date.now();
      this.stale = { tables: saved.tables, peers: new Set(saved.peers), since: now, until: now + l.staleTimeout * 1000 };
      this.o.log.info({ peers: saved.peers, staleTimeout: l.staleTimeout, labels: saved.tables.ilm.length }, 'ldp: keeping the labels of before the restart until the sessions are back');
    }
    this.egress = egressPrefixes(cfg).join(',');
    const speaker = new LdpSpeaker({
      lsrId: l.lsrId,
      transportAddress: l.transportAddress,
      interfaces: devices,
      helloInterval: l.helloInterval,
      holdTime: l.holdTime,
      keepaliveTime: l.keepaliveTime,
      labelRange: [l.labels.min, l.labels.max],
      egress: egressPrefixes(cfg),
      resolveNextHop: (p) => this.routes.nextHop(p),
      program: (changes) => this.program(changes),
      preferredLabel: saved ? (p) => saved.localLabels[p] : undefined,
      heldLabels: saved ? saved.tables.ilm.map((e) => e.label) : undefined,
      releaseTimeoutMs: l.releaseTimeout * 1000,
      // the maps are pinned: forwarding state survives any restart of ours, for as long as we say
      ...(l.gracefulRestart ? { gracefulRestart: { reconnectMs: l.staleTimeout * 1000, recoveryMs: l.staleTimeout * 1000 } } : {}),
      port: this.o.port,
      log: this.o.log,
    });
    this.speaker = speaker;
    speaker.on('session', (s: SessionChange) => this.sessionChanged(s));
    await speaker.start();
    this.routes.watch(2000, () => speaker.routesChanged(), (e) => this.o.log.warn({ err: e.message }, 'ldp: reading the kernel routes failed'));
    this.o.daemon.onApplied(() => this.configApplied());
    this.staleTimer = setInterval(() => this.checkStale(), 500);
    this.staleTimer.unref?.();
    if (!saved) this.o.log.info({ lsrId: l.lsrId, interfaces: devices, egress: egressPrefixes(cfg) }, 'ldp speaker started');
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.staleTimer);
    this.routes.stop();
    await this.speaker?.stop();
    await this.speaker?.settled();
  }

  neighbors(): NeighborView[] {
    return this.speaker?.neighbors() ?? [];
  }
  bindings(): BindingView[] {
    return this.speaker?.bindings() ?? [];
  }
  discovery(): DiscoveryView | undefined {
    return this.speaker?.discovery();
  }
  stats(): SpeakerStats | undefined {
    return this.speaker?.stats();
  }

  /** true while labels of before a restart are kept for the sessions to re-form */
  isStale(): boolean {
    return this.stale !== undefined;
  }

  status(): LdpStatus {
    const l = this.ldp;
    const s = this.stale;
    const up = new Set(this.neighbors().filter((n) => n.state === 'OPERATIONAL').map((n) => n.neighborId));
    return {
      lsrId: l.lsrId,
      transportAddress: l.transportAddress,
      stale: s ? { since: new Date(s.since).toISOString(), peersAwaited: [...s.peers].filter((p) => !up.has(p)).sort(), removeBy: new Date(s.until).toISOString() } : null,
      tables: this.tables,
    };
  }

  /**
   * A new local label for an ISP's FEC this node is egress for (or any FEC with a local label),
   * make-before-break: the new label is in the maps before peers hear of it, and the old one
   * stays until they released it. Resolves once the new label is installed and advertised.
   */
  async relabel(prefix: string): Promise<{ fec: string; from: number; to: number }> {
    const sp = this.speaker;
    if (!sp) throw new Error('the LDP speaker is not running');
    const from = sp.bindings().find((b) => b.prefix === prefix)?.localLabel ?? null;
    if (from === null) throw new RangeError(`no local label for ${prefix}`);
    const to = sp.relabel(prefix);
    await sp.settled();
    this.o.log.info({ fec: prefix, from, to }, 'ldp: local label changed');
    return { fec: prefix, from, to };
  }

  // ---- the data plane ----

  /** One batch of FEC changes from the speaker: recompute LDP's tables and commit them. */
  private async program(changes: FecChange[]): Promise<void> {
    for (const c of changes) {
      if (c.localLabel === undefined && !c.downstream && !c.egress) this.fecs.delete(c.prefix);
      else this.fecs.set(c.prefix, c);
    }
    await this.commit(`ldp: ${changes.length ? changes.map((c) => c.prefix).join(', ') : 'labels released'}`);
  }

  private compute(): LdpTables {
    const cfg = this.config;
    const live = ldpTables({
      config: cfg,
      fecs: this.fecs,
      retiring: new Set(this.speaker ? this.speaker.retiring().keys() : []),
      installed: this.tables,
      resolve: (nh) => nextHopFor(cfg, nh, (a) => this.routes.mac(a)),
    });
    return this.stale ? withStale(live, this.stale.tables) : live;
  }

  private async commit(trigger: string): Promise<void> {
    if (this.stopped) return;
    const next = this.compute();
    const state: SavedState = {
      tables: next,
      localLabels: Object.fromEntries([...this.fecs.values()].filter((c) => c.localLabel !== undefined && c.localLabel >= 16).map((c) => [c.prefix, c.localLabel!])),
      peers: this.neighbors().filter((n) => n.state === 'OPERATIONAL').map((n) => n.neighborId),
      at: new Date().toISOString(),
    };
    if (JSON.stringify(next) === JSON.stringify(this.tables)) {
      this.saveQuietly(state);
      return;
    }
    const before = this.tables;
    const beforeText = this.o.registry.meta(LDP_STATE_KEY);
    const reg = this.o.registry;
    this.tables = next;
    try {
      await this.o.daemon.applyOverlay(trigger, {
        write: () => reg.transaction(() => reg.setMeta(LDP_STATE_KEY, JSON.stringify(state))),
        undo: () => reg.transaction(() => reg.setMeta(LDP_STATE_KEY, beforeText ?? JSON.stringify({ tables: EMPTY_TABLES, localLabels: {}, peers: [], at: state.at }))),
      });
      this.saved = state;
    } catch (err) {
      this.tables = before;
      throw err;
    }
  }

  /** The session set or local labels changed without a table change: keep the registry current
   * so a restart knows whom to wait for. */
  private saveQuietly(state: SavedState): void {
    if (this.saved && JSON.stringify({ ...this.saved, at: '' }) === JSON.stringify({ ...state, at: '' })) return;
    try {
      this.o.registry.transaction(() => this.o.registry.setMeta(LDP_STATE_KEY, JSON.stringify(state)));
      this.saved = state;
    } catch (err) {
      this.o.log.warn({ err: String(err) }, 'ldp: cannot record the label state');
    }
  }

  // ---- sessions and restarts ----

  private sessionChanged(s: SessionChange): void {
    const e = neighborEvent(s, this.neighbors().find((x) => x.neighborId === s.neighborId)?.transportAddress ?? null);
    if (!e) return;
    this.o.log.info({ neighbor: s.neighborId, transport: e.data!.transportAddress, from: s.from, to: s.to, why: s.why }, e.type === 'ldp.neighbor.up' ? 'ldp neighbor up' : 'ldp neighbor down');
    try {
      this.o.events.emit(e);
    } catch (err) {
      this.o.log.warn({ err: String(err) }, 'ldp: recording the neighbour event failed');
    }
  }

  private checkStale(): void {
    const s = this.stale;
    if (!s || !this.speaker) return;
    const now = Date.now();
    const up = new Set(this.neighbors().filter((n) => n.state === 'OPERATIONAL').map((n) => n.neighborId));
    const allBack = [...s.peers].every((p) => up.has(p));
    if (allBack && s.allUpAt === undefined) s.allUpAt = now;
    if (!allBack) s.allUpAt = undefined;
    const refreshed = s.allUpAt !== undefined && now - s.allUpAt >= SETTLE_MS;
    if (!refreshed && now < s.until) return;
    this.stale = undefined;
    this.speaker.unholdLabels();
    this.o.log.info({ why: refreshed ? 'sessions back and mappings refreshed' : 'stale timeout', waitedMs: now - s.since, missing: [...s.peers].filter((p) => !up.has(p)) }, 'ldp: removing labels of before the restart that were not refreshed');
    void this.speaker.settled().then(() => this.commit('ldp: stale labels removed').catch((err) => this.o.log.error({ err: String(err) }, 'ldp: removing stale labels failed')));
  }

  /** After a reload: the FECs this node is egress for may have changed. */
  private configApplied(): void {
    const cfg = this.o.daemon.running;
    if (!this.speaker) return;
    const was = this.started;
    const now = cfg?.ldp;
    const identity = (l: Config['ldp']): string => JSON.stringify(l ? [l.enable, l.lsrId, l.transportAddress, l.interfaces, l.helloInterval, l.holdTime, l.keepaliveTime, l.labels, l.gracefulRestart] : null);
    const id = identity(now);
    if (id !== identity(was) && id !== this.warned) {
      this.warned = id;
      this.o.log.warn({ running: was?.lsrId, file: now?.lsrId ?? null }, 'ldp: the ldp section changed beyond its FECs; the speaker keeps running as started until the daemon restarts');
    }
    if (!cfg?.ldp) return;
    const e = egressPrefixes(cfg);
    if (e.join(',') === this.egress) return;
    this.egress = e.join(',');
    this.o.log.info({ egress: e }, 'ldp: egress FECs changed');
    this.speaker.setEgress(e);
  }
}
