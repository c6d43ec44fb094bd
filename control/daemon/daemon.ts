// The daemon's core: it owns the running state of one node and is the only path from a change
// to the maps. Two sources of truth feed it, each with one writer: the router file (the
// operator's, read and never written) and the registry (the daemon's own SQLite store of
// subscribers, API-set rates and the audit log). The running config is the file with the
// registry's subscribers and rates in it. Every change — a reloaded file, a subscriber edit, a
// rate — is validated, compiled and planned, then committed to the registry, then written to
// the maps, then acknowledged, one at a time. A change that fails validation or compilation
// leaves the registry, the running config and the tables exactly as they were; one whose map
// write fails is taken back out of the registry and the tables are rolled back.
// Subscriber edits take a fast path where the pipeline has one: only the changed subscribers
// are checked, compiled and written (ports.ts planSubscribers).
import { readFile } from 'node:fs/promises';
import type { Logger } from '../log.js';
import type { Tables } from '../tables/types.js';
import type { Actor, AuditInput, Registry, SubscriberWrite } from '../registry/registry.js';
import { RegistryError } from '../registry/registry.js';
import { NO_EVENTS, type EventInput, type EventSink } from '../events/sink.js';
import type { UsageMeter } from './usage.js';
import { DaemonError, invalid, notFound, type Issue } from './errors.js';
import type { ConfigModel, Direction, RateLimit, RawSubscriberChange, Subscriber, SubscriberOp } from './model.js';
import { matchKey } from './model.js';
import type { AttachedProgram, ConfigPipeline, Dataplane, PlannedChange } from './ports.js';
import { tableSizes } from './sizes.js';

export interface ReconcileRecord {
  /** ms since the epoch */
  at: number;
  ok: boolean;
  trigger: string;
  error?: string;
  counts?: PlannedChange['counts'];
  durationMs: number;
}

export interface CommitResult {
  dryRun: boolean;
  changed: boolean;
  counts: PlannedChange['counts'];
  plan: string;
}

/** A registry change made with a commit: written after validation and before the maps, and
 * taken back when the map write fails. */
export interface RegistryChange {
  write(): void;
  undo(): void;
}

export interface CommitOptions<C = unknown> {
  /** raw as the pipeline validated it already (skips validating it again) */
  validated?: C;
  dryRun?: boolean;
  trigger: string;
  registry?: RegistryChange;
}

export interface DaemonOptions<C> {
  configPath: string;
  pipeline: ConfigPipeline<C>;
  dataplane: Dataplane;
  log: Logger;
  /** reads and edits of the running config in API terms */
  model: ConfigModel;
  /** the node's registry, opened (and locked) by the caller */
  registry: Registry;
  /** where the daemon's events go (control/events/sink.ts); none when absent */
  events?: EventSink;
  /** the per-subscriber meters (control/daemon/usage.ts), when the data plane has them */
  usage?: UsageMeter;
  /** subscriber -> id of its open session (the registry's sessions): a session-admitted
   * subscriber forwards only while it has one */
  admitted?(): Map<string, string>;
}

/** A document field the daemon derives at runtime (from the sessions) and never stores. */
export const RUNTIME_FIELDS = ['session'] as const;

/** The daemon itself, when it changes something on its own (start, reload, migration). */
export const DAEMON_ACTOR: Actor = { name: 'daemon', role: 'system' };

type Obj = Record<string, unknown>;

/** An ISP's rate overrides per direction (null: no limit). */
export type RateOverrides = Partial<Record<Direction, RateLimit | null>>;

export class Daemon<C = unknown> {
  private raw: Obj | undefined = undefined;
  private cfg: C | undefined = undefined;
  private tables: Tables | undefined = undefined;
  private last: ReconcileRecord | undefined = undefined;
  private detached = false;
  /** the subscriber edit indexes are built for the running config */
  private warmed = false;
  /** text of the router file as we last applied it, to skip reloads of an unchanged file */
  private fileText: string | undefined = undefined;
  private queue: Promise<unknown> = Promise.resolve();
  /** what a part that learns state from elsewhere (LDP's labels) adds to the running config */
  private overlay: ((raw: Obj) => Obj) | undefined = undefined;
  private readonly appliedListeners: Array<() => void> = [];
  readonly startedAt = Date.now();

  constructor(private readonly opts: DaemonOptions<C>) {}

  get log(): Logger {
    return this.opts.log;
  }
  get configPath(): string {
    return this.opts.configPath;
  }
  get pipeline(): ConfigPipeline<C> {
    return this.opts.pipeline;
  }
  get dataplane(): Dataplane {
    return this.opts.dataplane;
  }
  get usage(): UsageMeter | undefined {
    return this.opts.usage;
  }
  get events(): EventSink {
    return this.opts.events ?? NO_EVENTS;
  }
  get registry(): Registry {
    return this.opts.registry;
  }

  /** The running config (the router file with the registry's subscribers and rates), as plain
   * data, or undefined before start. */
  get runningRaw(): unknown {
    return this.raw;
  }
  get running(): C | undefined {
    return this.cfg;
  }
  get runningTables(): Tables | undefined {
    return this.tables;
  }
  get lastReconcile(): ReconcileRecord | undefined {
    return this.last;
  }
  get isDetached(): boolean {
    return this.detached;
  }

  /** Ready to serve: attached, the running config applied, and the indexes subscriber edits
   * need are built (so the first edit is as fast as the rest). */
  ready(): boolean {
    return !this.detached && this.cfg !== undefined && this.last?.ok === true && this.warmed && this.opts.dataplane.programs().length > 0;
  }

  /**
   * Reads the router file (or takes it as the caller already read and validated it), attaches
   * (or adopts pinned) programs, and converges the maps to file + registry. Throws if the
   * result is invalid: a daemon never starts on a state it cannot apply.
   *
   * A registry used for the first time takes the file's `subscribers:` (a file written for an
   * older fecflow); from then on the registry owns subscribers and the file's list is ignored,
   * with a warning on every load.
   */
  async start(preread?: { text: string; raw: unknown; validated?: C }): Promise<CommitResult> {
    const text = preread?.text ?? (await readFile(this.opts.configPath, 'utf8'));
    const fileRaw = asObj(preread?.raw ?? this.parseText(text));
    const reg = this.opts.registry;
    const fileSubs = Array.isArray(fileRaw.subscribers) ? (fileRaw.subscribers as Obj[]) : [];
    if (reg.meta('initialized') === undefined) {
      const raw = this.compose(fileRaw, this.withSessions(fileSubs.map((d) => ({ ...d }))));
      const res = await this.commit(raw, {
        trigger: 'start',
        // the registry then holds exactly the file's subscribers, which the caller validated
        validated: preread?.validated,
        registry: {
          write: () =>
            reg.transaction(() => {
              reg.writeSubscribers({ remove: [], put: fileSubs.map(stored) });
              reg.setMeta('initialized', new Date().toISOString());
              reg.setMeta('file_subscribers_imported', String(fileSubs.length));
              reg.writeAudit({ actor: DAEMON_ACTOR, action: 'registry.init', target: this.opts.configPath, detail: { importedFromFile: fileSubs.length } });
            }),
          undo: () => undefined, // a start that fails leaves nothing running to be consistent with
        },
      });
      if (fileSubs.length) this.log.info({ subscribers: fileSubs.length, registry: reg.path }, 'imported the router file\'s subscribers into the registry; from now on the registry owns them');
      this.fileText = text;
      return res;
    }
    this.warnFileSubscribers(fileSubs.length);
    const res = await this.commit(this.compose(fileRaw, this.withSessions(reg.subscribers())), { trigger: 'start' });
    this.fileText = text;
    return res;
  }

  /** Sets each document's `session` from the registry's open sessions (and drops one that
   * names no open session): the only way a session reaches the running config at start. */
  private withSessions(subs: Obj[]): Obj[] {
    const open = this.opts.admitted?.() ?? new Map<string, string>();
    for (const d of subs) {
      const id = open.get(String(d.name));
      if (id !== undefined) d.session = id;
      else if ('session' in d) delete d.session;
    }
    return subs;
  }

  private warnFileSubscribers(n: number): void {
    if (n === 0) return;
    this.log.warn(
      { subscribers: n, file: this.opts.configPath, importedAt: this.opts.registry.meta('initialized') },
      'the router file lists subscribers, but the registry owns them since it was created: the file\'s list is ignored (remove it; use `fecflow subscriber import` to add subscribers)',
    );
  }

  /**
   * Sets the overlay: a function of the composed document that adds what is learned rather
   * than written (LDP's labels). It is part of every composition from now on (start, reload,
   * rates); applyOverlay() recomposes and commits when what it adds has changed.
   */
  setOverlay(fn: ((raw: Obj) => Obj) | undefined): void {
    this.overlay = fn;
  }

  /** Called after every successful full commit (the new config is `running`). */
  onApplied(fn: () => void): void {
    this.appliedListeners.push(fn);
  }

  /** Recomposes the running config with the overlay as it is now and commits it, with the
   * registry change that records it (written before the maps, undone if they fail). */
  async applyOverlay(trigger: string, registry?: RegistryChange): Promise<CommitResult> {
    return this.serial(async () => {
      const raw = this.requireRunning();
      const fileText = this.fileText ?? (await readFile(this.opts.configPath, 'utf8'));
      const next = this.compose(asObj(this.parseText(fileText)), (raw.subscribers as Obj[] | undefined) ?? []);
      return this.commitLocked(next, { trigger, registry });
    });
  }

  /** The running config for a router file: the file with the registry's subscribers, the
   * API's rate overrides and the overlay. */
  private compose(fileRaw: Obj, subscribers: Obj[], rates: Map<string, RateOverrides> = this.opts.registry.rates()): Obj {
    const composed = this.composeFile(fileRaw, subscribers, rates);
    return this.overlay ? this.overlay(composed) : composed;
  }

  private composeFile(fileRaw: Obj, subscribers: Obj[], rates: Map<string, RateOverrides>): Obj {
    const raw: Obj = { ...fileRaw, subscribers };
    if (rates.size === 0) return raw;
    raw.isps = structuredClone(fileRaw.isps);
    // names only: counting a million subscribers per ISP is not needed here
    const names = new Set(this.opts.model.ispNames(raw).values());
    for (const [isp, dirs] of rates) {
      if (!names.has(isp)) {
        this.log.warn({ isp }, 'the registry has a rate for an ISP the router file no longer defines; ignored');
        continue;
      }
      for (const d of ['up', 'down'] as const) {
        const limit = dirs[d];
        if (limit !== undefined) this.opts.model.setRate(raw, isp, d, limit);
      }
    }
    return raw;
  }

  /** Re-read the router file (SIGHUP, file change, API). A bad file is logged and refused; the
   * registry is not touched either way.
   *
   * The file is read in turn with the other changes, not before: two reloads close together
   * (the file watcher and an API call after the same write, or two writes in a row) each apply
   * the file as it is when their turn comes, so a slow read of an older version can never be
   * applied after a newer one. */
  async reload(trigger: string, opts: { dryRun?: boolean } = {}): Promise<CommitResult | undefined> {
    return this.serial(async () => {
      let text: string;
      try {
        text = await readFile(this.opts.configPath, 'utf8');
      } catch (err) {
        this.log.error({ trigger, err: String(err) }, 'config reload: cannot read the file; keeping the running config');
        if (trigger.startsWith('api')) throw invalid(`cannot read the router file ${this.opts.configPath}: ${(err as Error).message}`);
        return undefined;
      }
      if (text === this.fileText && !opts.dryRun) {
        this.log.debug({ trigger }, 'config reload: file unchanged');
        return undefined;
      }
      try {
        if (!text.endsWith('\n') && !text.trimStart().startsWith('{')) {
          // A YAML file cut off mid-line often still parses: an editor or a copy is mid-write.
          throw invalid('the config file does not end with a newline: it looks half-written; write it atomically (temp file + rename)');
        }
        const fileRaw = asObj(this.parseText(text));
        const subs = (this.raw?.subscribers as Obj[] | undefined) ?? this.opts.registry.subscribers();
        this.warnFileSubscribers(Array.isArray(fileRaw.subscribers) ? fileRaw.subscribers.length : 0);
        const r = await this.commitLocked(this.compose(fileRaw, subs), { trigger, dryRun: opts.dryRun });
        if (!opts.dryRun) this.fileText = text;
        return r;
      } catch (err) {
        const e = err instanceof DaemonError ? err : undefined;
        this.log.error(
          { trigger, error: String((err as Error).message ?? err), issues: e?.issues },
          'config reload refused; the running config and tables are unchanged',
        );
        if (trigger.startsWith('api')) throw err;
        return undefined;
      }
    });
  }

  /** Sets (or with null removes) an ISP's rate limit per direction; `clear` drops the API's
   * override so the router file's rate applies again. Recorded in the registry. */
  async setRates(
    actor: Actor,
    isp: string,
    limits: Partial<Record<Direction, RateLimit | null>>,
    opts: { dryRun?: boolean; clear?: Direction[] } = {},
  ): Promise<CommitResult> {
    return this.serial(async () => {
      const raw = this.requireRunning();
      const reg = this.opts.registry;
      const before = reg.rates().get(isp) ?? {};
      const clear = opts.clear ?? [];
      // the next state: the override table after this change, applied to the file's ISPs
      const fileText = this.fileText ?? (await readFile(this.opts.configPath, 'utf8'));
      const fileRaw = asObj(this.parseText(fileText));
      if (![...this.opts.model.ispNames(fileRaw).values()].includes(isp)) throw notFound(`no ISP named '${isp}'`);
      const after: RateOverrides = { ...before };
      for (const d of clear) delete after[d];
      for (const [d, l] of Object.entries(limits) as Array<[Direction, RateLimit | null]>) after[d] = l;
      const rates = reg.rates();
      rates.set(isp, after);
      const next = this.compose(fileRaw, (raw.subscribers as Obj[] | undefined) ?? [], rates);
      const write = (state: RateOverrides, audit: boolean) => () =>
        reg.transaction(() => {
          for (const d of ['up', 'down'] as const) reg.writeRate(isp, d, state[d] ?? null, state[d] === undefined);
          if (audit) reg.writeAudit({ actor, action: 'isp.rate', target: isp, detail: { set: limits, clear } });
        });
      return this.commitLocked(next, { dryRun: opts.dryRun, trigger: `api:isp-rate ${isp}`, registry: { write: write(after, true), undo: write(before, false) } });
    });
  }

  /**
   * A subscriber edit (assign, move, remove, import). On the pipeline's fast path only the
   * changed subscribers are checked, compiled and written; otherwise it is a full commit of
   * the new running config. Either way the registry holds the change before the maps do.
   * `guard` sees each changed subscriber before and after (an ISP's token may change only its
   * own); `with` is written in the registry transaction that makes the change, and taken back
   * with it.
   */
  async editSubscribers(
    trigger: string,
    op: SubscriberOp,
    opts: { dryRun?: boolean; actor?: Actor; guard?: SubscriberGuard; with?: RegistryChange } = {},
  ): Promise<CommitResult & { summary?: SubscriberEditSummary }> {
    return this.serial(() => this.editLocked(trigger, op, { dryRun: opts.dryRun, actor: opts.actor, guard: opts.guard, record: opts.with }));
  }

  /**
   * Makes the registry's own state — every subscriber and every ISP rate override — equal to
   * `desired`, all or nothing, as one change: the subscribers by the import path (replace), so
   * only the difference is written; the rates, when they differ, by the full path a rate change
   * takes. `record` is written inside the registry transaction that makes the change, and taken
   * back with it (a caller records there what it applied, so the record and the change cannot
   * part); it is written also when nothing differs. The audit record is the caller's.
   */
  async applyState(
    trigger: string,
    desired: { subscribers: Subscriber[]; rates: Map<string, RateOverrides> },
    opts: { actor: Actor; audit: Omit<AuditInput, 'actor'>; record?: RegistryChange },
  ): Promise<CommitResult & { summary?: SubscriberEditSummary }> {
    const op: SubscriberOp = { op: 'import', subscribers: desired.subscribers, replace: true };
    return this.serial(async () => {
      const raw = this.requireRunning();
      const reg = this.opts.registry;
      const before = reg.rates();
      if (sameRates(before, desired.rates)) return this.editLocked(trigger, op, { actor: opts.actor, audit: opts.audit, record: opts.record });
      const fileRaw = asObj(this.parseText(this.fileText ?? (await readFile(this.opts.configPath, 'utf8'))));
      const names = new Set(this.opts.model.ispNames(fileRaw).values());
      const unknown = [...desired.rates.keys()].filter((n) => !names.has(n));
      if (unknown.length) throw invalid('the rates name ISPs this router does not define', unknown.map((n) => ({ path: `rates.${n}`, message: `no ISP named '${n}'` })));
      const subs = (raw.subscribers as Obj[] | undefined) ?? [];
      const edit = this.opts.model.planSubscriberEdit(raw, op);
      const copy: Obj = { ...raw, subscribers: subs.slice() };
      this.opts.model.planSubscriberEdit(copy, op).apply();
      const next = this.compose(fileRaw, copy.subscribers as Obj[], desired.rates);
      const registry: RegistryChange = {
        write: () =>
          reg.transaction(() => {
            reg.writeSubscribers(registryWrite(subs, edit.changes));
            writeRateTable(reg, before, desired.rates);
            reg.writeAudit({ actor: opts.actor, ...opts.audit });
            for (const e of subscriberEvents(subs, edit.changes, false)) this.events.emit(e);
            opts.record?.write();
          }),
        undo: () =>
          reg.transaction(() => {
            reg.writeSubscribers(registryUndo(subs, edit.changes));
            writeRateTable(reg, desired.rates, before);
            for (const e of subscriberEvents(subs, edit.changes, true)) this.events.emit(e);
            opts.record?.undo();
          }),
      };
      const r = await this.commitLocked(next, { trigger, registry });
      return { ...r, summary: edit.summary };
    });
  }

  private async editLocked(
    trigger: string,
    op: SubscriberOp,
    opts: { dryRun?: boolean; actor?: Actor; guard?: SubscriberGuard; audit?: Omit<AuditInput, 'actor'>; record?: RegistryChange },
  ): Promise<CommitResult & { summary?: SubscriberEditSummary }> {
    const model = this.opts.model;
    const actor = opts.actor ?? DAEMON_ACTOR;
    const raw = this.requireRunning();
    const subs = (raw.subscribers as Obj[] | undefined) ?? [];
    const edit = model.planSubscriberEdit(raw, op);
    if (opts.guard) for (const c of edit.changes) opts.guard(c.index !== undefined ? subs[c.index] : undefined, c.after);
    const reg = this.opts.registry;
    const audit = { actor, ...(opts.audit ?? { action: `subscriber.${op.op}`, target: targetOf(op), detail: detailOf(op, edit.summary) }) };
    const regChange: RegistryChange = {
      write: () =>
        reg.transaction(() => {
          reg.writeSubscribers(registryWrite(subs, edit.changes));
          reg.writeAudit(audit);
          for (const e of subscriberEvents(subs, edit.changes, false)) this.events.emit(e);
          opts.record?.write();
        }),
      // what was told is taken back by telling the opposite: a reader never keeps a change
      // that did not happen
      undo: () =>
        reg.transaction(() => {
          reg.writeSubscribers(registryUndo(subs, edit.changes));
          for (const e of subscriberEvents(subs, edit.changes, true)) this.events.emit(e);
          opts.record?.undo();
        }),
    };
    const fast = this.opts.pipeline.planSubscribers && this.cfg !== undefined && this.tables !== undefined
      ? await this.opts.pipeline.planSubscribers({ config: this.cfg, tables: this.tables, raw }, edit.changes)
      : undefined;
    if (!fast) {
      const copy: Obj = { ...raw, subscribers: subs.slice() };
      model.planSubscriberEdit(copy, op).apply();
      const r = await this.commitLocked(copy, { dryRun: opts.dryRun, trigger, registry: regChange });
      return { ...r, summary: edit.summary };
    }
    if (!fast.ok) throw invalid('the config is invalid', fast.issues);
    const planned = fast.planned;
    if (opts.dryRun) {
      fast.abandon();
      return { dryRun: true, changed: !planned.empty, counts: planned.counts, plan: planned.text, summary: edit.summary };
    }
    try {
      regChange.write();
    } catch (err) {
      fast.abandon();
      throw storageError(err);
    }
    const t0 = performance.now();
    try {
      await planned.apply();
    } catch (err) {
      fast.abandon();
      const message = err instanceof Error ? err.message : String(err);
      this.record({ at: Date.now(), ok: false, trigger, error: message, counts: planned.counts, durationMs: performance.now() - t0 });
      this.log.error({ trigger, error: message }, 'reconcile failed');
      const undone = this.undoRegistry(regChange, trigger);
      await this.rollback();
      throw new DaemonError('failed', `reconcile failed: ${message}${undone ? '; the change was taken back out of the registry' : '; the change stays recorded in the registry and is applied at the next start'}`);
    }
    fast.commit();
    edit.apply();
    this.record({ at: Date.now(), ok: true, trigger, counts: planned.counts, durationMs: performance.now() - t0 });
    this.log.info({ trigger, changes: summarize(planned.counts), ms: Math.round(this.last!.durationMs * 10) / 10 }, 'reconciled');
    return { dryRun: false, changed: !planned.empty, counts: planned.counts, plan: planned.text, summary: edit.summary };
  }

  /** Keeps the last reconcile and tells of a failure, and of the first success after one. */
  private record(rec: ReconcileRecord): void {
    const was = this.last;
    this.last = rec;
    const event = !rec.ok ? 'reconcile.failed' : was && !was.ok ? 'reconcile.recovered' : undefined;
    if (!event) return;
    try {
      this.events.emit({ type: event, subject: rec.trigger, data: rec.ok ? { trigger: rec.trigger, failedAt: new Date(was!.at).toISOString() } : { trigger: rec.trigger, error: rec.error } });
    } catch (err) {
      // the registry refusing the event (a full disk) must not hide the reconcile's own outcome
      this.log.error({ event, error: String((err as Error).message ?? err) }, 'could not record the event');
    }
  }

  private requireRunning(): Obj {
    if (this.raw === undefined) throw new DaemonError('unavailable', 'the daemon has no running config yet');
    if (this.detached) throw new DaemonError('unavailable', 'the data plane was detached; restart `fecflow serve` to attach it again');
    return this.raw;
  }

  /** Takes a registry change back after its map write failed; false if that failed too. */
  private undoRegistry(change: RegistryChange, trigger: string): boolean {
    try {
      change.undo();
      return true;
    } catch (err) {
      this.log.error({ trigger, error: String((err as Error).message ?? err) }, 'taking the change back out of the registry failed: it is applied at the next start');
      return false;
    }
  }

  async commit(raw: Obj, opts: CommitOptions<C>): Promise<CommitResult> {
    return this.serial(() => this.commitLocked(raw, opts));
  }

  private async commitLocked(raw: Obj, opts: CommitOptions<C>): Promise<CommitResult> {
    if (this.detached) throw new DaemonError('unavailable', 'the data plane was detached; restart `fecflow serve` to attach it again');
    const v = opts.validated !== undefined ? { ok: true as const, config: opts.validated } : this.opts.pipeline.validate(raw);
    if (!v.ok) throw invalid('the config is invalid', v.issues);
    const config = v.config;
    if (this.cfg !== undefined) {
      const oldNode = this.opts.pipeline.node(this.cfg);
      const newNode = this.opts.pipeline.node(config);
      if (oldNode !== newNode) {
        throw invalid('the config is invalid', [
          { path: 'node', message: `the node name cannot change while running (${oldNode} -> ${newNode}); restart the daemon` },
        ]);
      }
    }
    const desired = await this.opts.pipeline.compile(config);

    if (opts.dryRun) {
      const planned = await this.opts.pipeline.plan(desired);
      return { dryRun: true, changed: !planned.empty, counts: planned.counts, plan: planned.text };
    }

    try {
      opts.registry?.write();
    } catch (err) {
      throw storageError(err);
    }
    const t0 = performance.now();
    let planned: (PlannedChange & { apply(): Promise<void> }) | undefined;
    try {
      // Attach first: a new access port must carry its program before traffic is classified
      // for it, and the next hops that point at a new core port need it in tx_port.
      const programs = await this.opts.dataplane.sync(this.opts.pipeline.interfaces(config));
      this.logAttach(programs, opts.trigger);
      planned = await this.opts.pipeline.plan(desired);
      await planned.apply();
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      this.record({ at: Date.now(), ok: false, trigger: opts.trigger, error: message, counts: planned?.counts, durationMs: performance.now() - t0 });
      this.log.error({ trigger: opts.trigger, error: message }, 'reconcile failed');
      const undone = opts.registry ? this.undoRegistry(opts.registry, opts.trigger) : true;
      await this.rollback();
      throw new DaemonError('failed', `reconcile failed: ${message}${undone ? '' : '; the change stays recorded in the registry and is applied at the next start'}`);
    }
    this.raw = raw;
    this.cfg = config;
    this.tables = desired;
    this.record({ at: Date.now(), ok: true, trigger: opts.trigger, counts: planned.counts, durationMs: performance.now() - t0 });
    this.log.info({ trigger: opts.trigger, changes: summarize(planned.counts), ms: Math.round(this.last!.durationMs) }, 'reconciled');
    this.warmEdits();
    for (const fn of this.appliedListeners) {
      try {
        fn();
      } catch (err) {
        this.log.error({ error: String((err as Error).message ?? err) }, 'a listener of applied configs failed');
      }
    }
    return { dryRun: false, changed: !planned.empty, counts: planned.counts, plan: planned.text };
  }

  /**
   * Once the reply to a full commit is out, builds the indexes subscriber edits look things up
   * in (about 3 s for a million subscribers), so the first move after a start or a reload does
   * not wait for them. It runs in the queue, before any edit that arrives meanwhile; /readyz
   * answers 200 once it is done.
   */
  private warmEdits(): void {
    const { model, pipeline } = this.opts;
    this.warmed = false;
    setImmediate(() => {
      void this.serial(async () => {
        const { raw, cfg, tables } = this;
        if (raw === undefined || cfg === undefined || tables === undefined || this.detached) return;
        const t0 = performance.now();
        model.warm?.(raw);
        pipeline.warmSubscribers?.({ config: cfg, tables, raw });
        this.warmed = true;
        this.log.debug({ ms: Math.round(performance.now() - t0) }, 'subscriber edit indexes built');
      }).catch((err) => {
        this.warmed = true; // the first edit builds them instead
        this.log.warn({ error: String((err as Error).message ?? err) }, 'building the subscriber edit indexes failed; the first edit builds them');
      });
    });
  }

  /** After a failed apply, write the previous tables back so the data plane is not left half
   * way between two states. */
  private async rollback(): Promise<void> {
    if (!this.tables || !this.cfg) return;
    try {
      await this.opts.dataplane.sync(this.opts.pipeline.interfaces(this.cfg));
      const back = await this.opts.pipeline.plan(this.tables);
      await back.apply();
      this.log.warn('rolled the tables back to the running config');
    } catch (err) {
      this.log.error({ error: String(err) }, 'rollback failed; the tables may be partly updated');
    }
  }

  private logAttach(programs: AttachedProgram[], trigger: string): void {
    for (const p of programs) {
      this.log.debug({ trigger, ifname: p.ifname, role: p.role, mode: p.mode, progId: p.progId, reused: p.reused }, 'program attached');
    }
  }

  private parseText(text: string): unknown {
    try {
      return this.opts.pipeline.parse(text);
    } catch (err) {
      throw invalid('the config is not valid YAML', [{ path: '', message: err instanceof Error ? err.message : String(err) }]);
    }
  }

  /** Detach everything this node attached and remove the pins. */
  async detach(): Promise<void> {
    return this.serial(async () => {
      await this.opts.dataplane.detach();
      this.detached = true;
      this.log.warn('detached every program and removed the pins');
    });
  }

  /** Entries per map of the running tables. */
  tableSizes(): Record<string, number> {
    return this.tables ? tableSizes(this.tables) : {};
  }

  /** Runs fn in the daemon's queue, when no change is being compiled or written (the meter
   * gives slots back only there). */
  exclusive<T>(fn: () => T | Promise<T>): Promise<T> {
    return this.serial(async () => fn());
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }
}

function asObj(v: unknown): Obj {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw invalid('the config must be a mapping at the top level');
  return v as Obj;
}

/** The same overrides: the same ISPs, directions and limits (compared as the registry stores them). */
function sameRates(a: Map<string, RateOverrides>, b: Map<string, RateOverrides>): boolean {
  const canon = (m: Map<string, RateOverrides>) =>
    JSON.stringify([...m].filter(([, d]) => d.up !== undefined || d.down !== undefined).map(([isp, d]) => [isp, d.up === undefined ? 'unset' : d.up, d.down === undefined ? 'unset' : d.down]).sort((x, y) => (String(x[0]) < String(y[0]) ? -1 : 1)));
  return canon(a) === canon(b);
}

/** Writes the rate override table so it holds `to` where it held `from`. */
function writeRateTable(reg: Registry, from: Map<string, RateOverrides>, to: Map<string, RateOverrides>): void {
  for (const isp of new Set([...from.keys(), ...to.keys()])) {
    const t = to.get(isp) ?? {};
    for (const d of ['up', 'down'] as const) reg.writeRate(isp, d, t[d] ?? null, t[d] === undefined);
  }
}

/** A registry failure as the API reports it: a full disk is the operator's to fix (507). */
function storageError(err: unknown): Error {
  if (err instanceof RegistryError) return new DaemonError(err.kind === 'full' ? 'storage' : 'failed', err.message);
  return err as Error;
}

/** The rows a positional change of subscribers[] writes: replaced and appended documents,
 * removed names (a replacement under a new name removes the old one). */
export function registryWrite(subs: readonly Obj[], changes: readonly RawSubscriberChange[]): SubscriberWrite {
  const w: SubscriberWrite = { remove: [], put: [] };
  for (const c of changes) {
    const before = c.index !== undefined ? subs[c.index] : undefined;
    if (before && (!c.after || before.name !== c.after.name)) w.remove.push(String(before.name));
    if (c.after) w.put.push(stored(c.after));
  }
  return w;
}

/** A running document as the registry keeps it: without the fields derived at runtime. */
function stored(doc: Obj): Obj {
  if (!RUNTIME_FIELDS.some((f) => f in doc)) return doc;
  const out = { ...doc };
  for (const f of RUNTIME_FIELDS) delete out[f];
  return out;
}

/** The rows that take registryWrite(subs, changes) back. */
export function registryUndo(subs: readonly Obj[], changes: readonly RawSubscriberChange[]): SubscriberWrite {
  const w: SubscriberWrite = { remove: [], put: [] };
  for (const c of changes) {
    const before = c.index !== undefined ? subs[c.index] : undefined;
    if (c.after && (!before || before.name !== c.after.name)) w.remove.push(String(c.after.name));
    if (before) w.put.push(stored(before));
  }
  return w;
}

/** Called with each subscriber an edit would change (before and after, as stored); throws to
 * refuse the whole edit before anything is written (an isp: token touching another ISP's). */
export type SubscriberGuard = (before: Obj | undefined, after: Obj | undefined) => void;

/** Above this many changed subscribers an edit is told as one event per ISP, not one per subscriber. */
export const BULK_EVENTS = 10_000;

/** The events a positional change of subscribers[] tells (`undo`: of taking it back). A move to
 * another ISP is `subscriber.moved` for the new ISP and `subscriber.removed` for the old one,
 * so each ISP hears of its own subscribers and of no one else's. */
export function subscriberEvents(subs: readonly Obj[], changes: readonly RawSubscriberChange[], undo: boolean): EventInput[] {
  const out: EventInput[] = [];
  const bulk = changes.length > BULK_EVENTS ? new Map<string, { added: number; moved: number; removed: number }>() : undefined;
  const count = (isp: string, k: 'added' | 'moved' | 'removed') => {
    const c = bulk!.get(isp) ?? bulk!.set(isp, { added: 0, moved: 0, removed: 0 }).get(isp)!;
    c[k]++;
  };
  for (const c of changes) {
    const was = c.index !== undefined ? subs[c.index] : undefined;
    const before = undo ? c.after : was;
    const after = undo ? was : c.after;
    const subject = String((after ?? before)?.name ?? '');
    if (!before && after) {
      if (bulk) count(String(after.isp), 'added');
      else out.push({ type: 'subscriber.added', isp: String(after.isp), subject, data: { subscriber: after } });
    } else if (before && !after) {
      if (bulk) count(String(before.isp), 'removed');
      else out.push({ type: 'subscriber.removed', isp: String(before.isp), subject: String(before.name ?? ''), data: { subscriber: before } });
    } else if (before && after && before.isp !== after.isp) {
      if (bulk) {
        count(String(after.isp), 'moved');
        count(String(before.isp), 'removed');
        continue;
      }
      out.push({ type: 'subscriber.moved', isp: String(after.isp), subject, data: { subscriber: after, from: before.isp, to: after.isp } });
      out.push({ type: 'subscriber.removed', isp: String(before.isp), subject: String(before.name ?? ''), data: { subscriber: before, reason: 'moved to another ISP' } });
    }
  }
  for (const [isp, counts] of bulk ?? []) out.push({ type: 'subscribers.changed', isp, subject: isp, data: counts });
  return out;
}

function targetOf(op: SubscriberOp): string {
  switch (op.op) {
    case 'assign':
    case 'move':
      return matchKey(op.subscriber.match);
    case 'remove':
      return matchKey(op.match);
    case 'patch':
      return op.patches.length === 1 ? op.patches[0]!.name : `${op.patches.length} subscriber(s)`;
    case 'import':
      return `${op.subscribers.length} subscriber(s)`;
  }
}

function detailOf(op: SubscriberOp, summary?: SubscriberEditSummary): unknown {
  switch (op.op) {
    case 'assign':
    case 'move':
      return { subscriber: op.subscriber };
    case 'remove':
      return { match: op.match };
    case 'patch':
      return { patches: op.patches.map((p) => ({ name: p.name, set: Object.fromEntries(Object.entries(p.set).map(([k, v]) => [k, v ?? null])) })) };
    case 'import':
      return { rows: op.subscribers.length, replace: op.replace, summary };
  }
}

export interface SubscriberEditSummary {
  added: number;
  moved: number;
  removed: number;
  unchanged: number;
}

function summarize(counts: PlannedChange['counts']): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(counts)) if (v.set || v.delete) out[k] = `+${v.set} -${v.delete}`;
  return out;
}

export type { Issue };
