// Puts the real parts together for `fecflow serve`: control/config validates, control/compile
// compiles against the host's interfaces, the reconcile adapter writes the BPF maps.
import { parse as parseYaml } from 'yaml';
import { checkConfig, type Config } from '../config/index.js';
import { compile, CompileError, type CompileEnv } from '../compile/index.js';
import type { Tables } from '../tables/types.js';
import { invalid } from './errors.js';
import type { HostEnv } from './netenv.js';
import type { ConfigPipeline, InterfaceRole } from './ports.js';
import type { MapIO } from '../reconcile/index.js';
import { Reconciler } from '../reconcile/index.js';
import { planEntries, planReconcile } from './reconcile-adapter.js';
import { SubscriberPath } from './subscriber-path.js';

/** The meter's part in compiling: a slot per subscriber, made durable before any map entry
 * points at it (./meter.ts). */
export interface MeterSlots {
  slotFor(subscriber: string): number;
  flush(): void;
  abandon(): void;
}

export interface PipelineDeps {
  env: HostEnv;
  /** per-subscriber meters; without them nothing is metered and subscriber rates are refused */
  meter?: MeterSlots;
  /** the config maps to reconcile, and label_stats (counters created with the ILM) */
  maps(): { config: MapIO[]; labelStats?: MapIO };
}

export function parseConfigText(text: string): unknown {
  if (text.trim() === '') throw new Error('the configuration is empty');
  if (text.trimStart().startsWith('{')) return JSON.parse(text);
  return parseYaml(text, { version: '1.2', uniqueKeys: true, maxAliasCount: 1000 });
}

export function configPipeline(deps: PipelineDeps): ConfigPipeline<Config> {
  // One reconciler for the daemon's life: it reads the maps once (adopting what the pins hold)
  // and keeps a shadow of them; a failed apply makes it read them again.
  let reconciler: Reconciler | undefined;
  const maps = (): Reconciler => {
    if (!reconciler) {
      const m = deps.maps();
      reconciler = new Reconciler(m.labelStats ? [...m.config, m.labelStats] : m.config);
    }
    return reconciler;
  };
  const meter = deps.meter;
  const env: CompileEnv = meter ? { resolve: (d) => deps.env.resolve(d), meterSlot: (name) => meter.slotFor(name) } : deps.env;
  /** Runs a compile; the slots it handed out are recorded, or given back if it failed. */
  const metered = <T>(fn: () => T, keep: (r: T) => boolean = () => true): T => {
    let r: T;
    try {
      r = fn();
    } catch (err) {
      meter?.abandon();
      throw err;
    }
    if (keep(r)) meter?.flush();
    else meter?.abandon();
    return r;
  };
  // The fast path's state belongs to one running config; a full commit starts a new one.
  const paths = new WeakMap<Config, SubscriberPath>();
  const pathFor = (running: { config: Config; tables: Tables; raw: unknown }): SubscriberPath => {
    let path = paths.get(running.config);
    if (!path) {
      const subs = (): unknown[] => {
        const r = running.raw as { subscribers?: unknown[] };
        return r.subscribers ?? [];
      };
      path = new SubscriberPath(running.config, running.tables, env, (i) => subs()[i]);
      paths.set(running.config, path);
    }
    return path;
  };
  return {
    parse: parseConfigText,
    validate(raw) {
      const r = checkConfig(raw);
      return r.config ? { ok: true, config: r.config } : { ok: false, issues: r.issues };
    },
    node: (c) => c.node,
    interfaces: (c) => c.interfaces.map((i): InterfaceRole => ({ ifname: i.device, role: i.role })),
    async compile(c): Promise<Tables> {
      deps.env.refresh();
      try {
        return metered(() => compile(c, env));
      } catch (err) {
        if (err instanceof CompileError) throw invalid('the config cannot be compiled on this host', err.problems.map((p) => ({ path: '', message: p })));
        throw err;
      }
    },
    async plan(desired) {
      return planReconcile(desired, maps());
    },
    async planSubscribers(running, changes) {
      const p = metered(() => pathFor(running).plan(changes), (r) => r?.ok === true);
      if (!p || !p.ok) return p;
      return { ok: true, planned: planEntries(p.changes, maps()), commit: p.commit, abandon: p.abandon };
    },
    warmSubscribers(running) {
      metered(() => pathFor(running).warm());
    },
  };
}
