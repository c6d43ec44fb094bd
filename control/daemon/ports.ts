// The daemon's view of the parts it drives, as narrow interfaces: the data plane (programs,
// links, maps, counters) and the config pipeline (validate, compile, reconcile). The real ones
// are wired in ./wiring.ts over control/bpf, control/config, control/compile and
// control/reconcile; unit tests pass fakes, so the daemon's logic (source of truth, atomic
// edits, refusing a bad config, persistence) is tested without root.
import type { Tables } from '../tables/types.js';
import type { DropCounterRow, IcmpCounterRow, IspCounterRow, LabelCounterRow } from '../metrics/collector.js';
import type { Issue } from './errors.js';
import type { RawSubscriberChange } from './model.js';

export type Role = 'access' | 'core' | 'isp';

export interface InterfaceRole {
  ifname: string;
  role: Role;
}

export interface AttachedProgram {
  ifname: string;
  role: Role;
  /** how the kernel runs it: 'native' (driver) or 'generic' (skb) */
  mode: string;
  progId: number;
  tag: string;
  /** true when a pinned link from an earlier run was kept or updated, not created */
  reused: boolean;
}

export interface CounterReader {
  ispStats(): IspCounterRow[];
  labelStats(): LabelCounterRow[];
  dropStats(): DropCounterRow[];
  /** absent where the data plane has no icmp_stats (test fakes) */
  icmpStats?(): IcmpCounterRow[];
}

/** What the daemon needs from the loaded BPF object. */
export interface Dataplane {
  /** Make exactly these interfaces carry their role's program: attach new ones, keep or
   * update pinned links from an earlier run, detach interfaces no longer listed. */
  sync(interfaces: InterfaceRole[]): Promise<AttachedProgram[]>;
  programs(): AttachedProgram[];
  /** program id and tag per role, for the info metric */
  roleInfo(): Array<{ role: Role; id: number; tag: string }>;
  counters(): CounterReader;
  /** Detach every program and remove every pin. */
  detach(): Promise<void>;
  /** Release file descriptors; pins (and so forwarding) stay. */
  close(): void;
}

/** Result of a validation: the typed config, or the issues that make it invalid. */
export type Validated<C> = { ok: true; config: C } | { ok: false; issues: Issue[] };

/** A planned reconcile: what would change, and how to write it. */
export interface PlannedChange {
  /** writes and deletes per map */
  counts: Record<string, { set: number; delete: number }>;
  /** human-readable dry-run text */
  text: string;
  empty: boolean;
}

export interface ConfigPipeline<C> {
  parse(text: string): unknown; // YAML/JSON text -> plain object; throws on syntax errors
  validate(raw: unknown): Validated<C>;
  node(config: C): string;
  interfaces(config: C): InterfaceRole[];
  /** compile; throws DaemonError('invalid') when names do not resolve */
  compile(config: C): Promise<Tables>;
  plan(desired: Tables): Promise<PlannedChange & { apply(): Promise<void> }>;
  /**
   * The fast path for subscriber edits, if the pipeline has one: checks and plans a positional
   * change of subscribers[] against the running config and tables without a full compile.
   * Undefined when this change must take the full path.
   */
  planSubscribers?(running: { config: C; tables: Tables; raw: unknown }, changes: readonly RawSubscriberChange[]): Promise<SubscriberChangePlan | undefined>;
  /** builds what planSubscribers needs for this running config now, so no edit waits for it */
  warmSubscribers?(running: { config: C; tables: Tables; raw: unknown }): void;
}

export type SubscriberChangePlan =
  | { ok: false; issues: Issue[] }
  | {
      ok: true;
      planned: PlannedChange & { apply(): Promise<void> };
      /** make the change in the running config and tables, after it was applied */
      commit(): void;
      /** forget the change (dry run, or the apply failed) */
      abandon(): void;
    };
