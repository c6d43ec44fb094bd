// The daemon's core: the running config is the source of truth; every change — a reloaded
// file, an applied config, an API edit — becomes a new config that is validated with the same
// schema, compiled, planned against the maps and applied, one at a time. A change that fails
// validation or compilation leaves the running config and the tables exactly as they were.
// Subscriber edits take a fast path where the pipeline has one: only the changed subscribers
// are checked, compiled and written (ports.ts planSubscribers). API edits are persisted: the
// whole config file is rewritten (temp file + rename) for everything but subscriber edits,
// which go to a journal next to the file (./journal.ts) that is folded into the file when it
// grows or the API goes quiet. The file watcher recognises our own writes.
import { readFile, rename, writeFile, stat, open } from 'node:fs/promises';
import { dirname, basename, join } from 'node:path';
import { stringify } from 'yaml';
import type { Logger } from '../log.js';
import type { Tables } from '../tables/types.js';
import { DaemonError, invalid, type Issue } from './errors.js';
import { Journal, journalPathFor } from './journal.js';
import type { ConfigModel, SubscriberOp } from './model.js';
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

export interface CommitOptions<C = unknown> {
  /** raw as the pipeline validated it already (skips validating it again) */
  validated?: C;
  dryRun?: boolean;
  /** write the new config back to the file (API edits) */
  persist?: boolean;
  /** the exact text to persist (an applied file keeps its comments); else YAML of raw */
  text?: string;
  trigger: string;
}

export interface DaemonOptions<C> {
  configPath: string;
  pipeline: ConfigPipeline<C>;
  dataplane: Dataplane;
  log: Logger;
  /** the config's subscriber edits (replaying the journal, editSubscribers) */
  model?: ConfigModel;
  /** the journal of subscriber edits; default: .<config file name>.journal next to it */
  journalPath?: string;
  /** fold the journal into the file once it holds more than this share of the file's size
   * (default 1/8: the rewrite costs at most 8 journal bytes per file byte) */
  compactRatio?: number;
  /** fold the journal into the file after this long without edits (default 2000 ms) */
  compactIdleMs?: number;
}

export class Daemon<C = unknown> {
  private raw: unknown = undefined;
  private cfg: C | undefined = undefined;
  private tables: Tables | undefined = undefined;
  private last: ReconcileRecord | undefined = undefined;
  private detached = false;
  /** text of the config file as we last read or wrote it, to tell our writes from others' */
  private fileText: string | undefined = undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly journal: Journal;
  private idleTimer: NodeJS.Timeout | undefined;
  readonly startedAt = Date.now();

  constructor(private readonly opts: DaemonOptions<C>) {
    this.journal = new Journal(opts.journalPath ?? journalPathFor(opts.configPath));
  }

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

  /** The running config as the operator wrote it (plain data), or undefined before start. */
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

  ready(): boolean {
    return !this.detached && this.cfg !== undefined && this.last?.ok === true && this.opts.dataplane.programs().length > 0;
  }

  /** Load the config file (or take it as the caller already read and parsed it), attach (or
   * adopt pinned) programs, reconcile. Throws if the file is invalid: a daemon never starts on
   * a config it cannot apply. */
  async start(preread?: { text: string; raw: unknown; validated?: C }): Promise<CommitResult> {
    const text = preread?.text ?? (await readFile(this.opts.configPath, 'utf8'));
    const raw = preread?.raw ?? this.parseText(text);
    const replayed = this.replayJournal(text, raw);
    this.fileText = text;
    if (replayed) {
      try {
        const res = await this.commit(replayed, { trigger: 'start' });
        await this.serial(() => this.persist(this.raw));
        this.log.info({ path: this.opts.configPath }, 'folded the journal into the config file');
        return res;
      } catch (err) {
        this.log.error({ error: String((err as Error).message ?? err) }, 'the config file with the journal replayed is refused; starting from the file alone');
        const aside = this.journal.setAside('refused');
        this.log.warn({ journal: aside }, 'the journal was kept aside');
      }
    }
    const res = await this.commit(raw, { trigger: 'start', validated: preread?.validated });
    this.journal.reset(text);
    return res;
  }

  /** The file's raw config with the journal's edits made, or undefined when there are none. */
  private replayJournal(text: string, raw: unknown): unknown {
    const j = this.journal.read(text);
    if (j.setAside) {
      this.log.warn({ journal: j.setAside }, 'the config file was written after the journal of API edits began: the file wins; the journal was kept aside');
    }
    if (!j.entries.length) return undefined;
    const model = this.opts.model;
    if (!model) throw new Error('a journal needs the config model to replay it');
    const copy = structuredClone(raw);
    let skipped = 0;
    for (const e of j.entries) {
      try {
        model.planSubscriberEdit(copy, e.op as SubscriberOp).apply();
      } catch (err) {
        skipped++;
        this.log.warn({ trigger: e.trigger, at: e.at, error: String((err as Error).message ?? err) }, 'journal: an edit no longer applies; skipped');
      }
    }
    this.log.info({ edits: j.entries.length, skipped }, 'replayed the journal of API edits');
    return copy;
  }

  /** Re-read the config file (SIGHUP, file change). A bad file is logged and refused. */
  async reload(trigger: string): Promise<CommitResult | undefined> {
    let text: string;
    try {
      text = await readFile(this.opts.configPath, 'utf8');
    } catch (err) {
      this.log.error({ trigger, err: String(err) }, 'config reload: cannot read the file; keeping the running config');
      return undefined;
    }
    if (text === this.fileText) {
      this.log.debug({ trigger }, 'config reload: file unchanged');
      return undefined;
    }
    try {
      if (!text.endsWith('\n') && !text.trimStart().startsWith('{')) {
        // A YAML file cut off mid-line often still parses: an editor or a copy is mid-write.
        throw invalid('the config file does not end with a newline: it looks half-written; write it atomically (temp file + rename)');
      }
      const raw = this.parseText(text);
      const res = await this.serial(async () => {
        const r = await this.commitLocked(raw, { trigger });
        // The operator's file is the whole config: API edits it does not show are dropped
        // (kept aside in the old journal), as README.md says.
        const edits = this.journal.count;
        if (edits > 0) {
          const aside = this.journal.setAside('replaced');
          this.log.warn({ journal: aside, edits }, 'the config file was edited while API edits were still in the journal: the file wins; the journal was kept aside');
        }
        this.fileText = text;
        this.journal.reset(text);
        return r;
      });
      return res;
    } catch (err) {
      const e = err instanceof DaemonError ? err : undefined;
      this.log.error(
        { trigger, error: String((err as Error).message ?? err), issues: e?.issues },
        'config reload refused; the running config and tables are unchanged',
      );
      return undefined;
    }
  }

  /** Apply a whole new config given as text (API `apply`). */
  async applyText(text: string, opts: { dryRun?: boolean }): Promise<CommitResult> {
    const raw = this.parseText(text);
    return this.commit(raw, { dryRun: opts.dryRun, persist: true, text: text.endsWith('\n') ? text : `${text}\n`, trigger: 'api:apply' });
  }

  /** Apply an edit of the running config (API calls): the function gets a deep copy. */
  async edit(trigger: string, fn: (raw: any) => unknown, opts: { dryRun?: boolean } = {}): Promise<CommitResult> {
    return this.serial(async () => {
      if (this.raw === undefined) throw new DaemonError('unavailable', 'the daemon has no running config yet');
      const copy = structuredClone(this.raw);
      const next = fn(copy) ?? copy;
      return this.commitLocked(next, { dryRun: opts.dryRun, persist: true, trigger });
    });
  }

  /**
   * A subscriber edit (assign, move, remove, import). On the pipeline's fast path only the
   * changed subscribers are checked, compiled and written, and the edit is journaled; otherwise
   * it is an edit of the whole config like any other.
   */
  async editSubscribers(trigger: string, op: SubscriberOp, opts: { dryRun?: boolean } = {}): Promise<CommitResult & { summary?: SubscriberEditSummary }> {
    const model = this.opts.model;
    if (!model) throw new Error('editSubscribers needs the config model');
    return this.serial(async () => {
      if (this.raw === undefined) throw new DaemonError('unavailable', 'the daemon has no running config yet');
      if (this.detached) throw new DaemonError('unavailable', 'the data plane was detached; restart `fecflow serve` to attach it again');
      const edit = model.planSubscriberEdit(this.raw, op);
      const fast = this.opts.pipeline.planSubscribers && this.cfg !== undefined && this.tables !== undefined
        ? await this.opts.pipeline.planSubscribers({ config: this.cfg, tables: this.tables, raw: this.raw }, edit.changes)
        : undefined;
      if (!fast) {
        const copy = structuredClone(this.raw);
        const again = model.planSubscriberEdit(copy, op);
        again.apply();
        const r = await this.commitLocked(copy, { dryRun: opts.dryRun, persist: true, trigger });
        return { ...r, summary: again.summary };
      }
      if (!fast.ok) throw invalid('the config is invalid', fast.issues);
      const planned = fast.planned;
      if (opts.dryRun) {
        fast.abandon();
        return { dryRun: true, changed: !planned.empty, counts: planned.counts, plan: planned.text, summary: edit.summary };
      }
      const t0 = performance.now();
      try {
        await planned.apply();
      } catch (err) {
        fast.abandon();
        const message = err instanceof Error ? err.message : String(err);
        this.last = { at: Date.now(), ok: false, trigger, error: message, counts: planned.counts, durationMs: performance.now() - t0 };
        this.log.error({ trigger, error: message }, 'reconcile failed');
        await this.rollback();
        throw new DaemonError('failed', `reconcile failed: ${message}`);
      }
      fast.commit();
      edit.apply();
      this.last = { at: Date.now(), ok: true, trigger, counts: planned.counts, durationMs: performance.now() - t0 };
      this.log.info({ trigger, changes: summarize(planned.counts), ms: Math.round(this.last.durationMs * 10) / 10 }, 'reconciled');
      if (!planned.empty) await this.record(trigger, op);
      return { dryRun: false, changed: !planned.empty, counts: planned.counts, plan: planned.text, summary: edit.summary };
    });
  }

  /** Journals an applied subscriber edit; folds the journal into the file when it grew. */
  private async record(trigger: string, op: SubscriberOp): Promise<void> {
    this.journal.append({ at: new Date().toISOString(), trigger, op });
    const fileBytes = this.fileText?.length ?? 0;
    if (this.journal.bytes > fileBytes * (this.opts.compactRatio ?? 1 / 8)) {
      await this.persist(this.raw);
      return;
    }
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => {
      this.idleTimer = undefined;
      void this.compact().catch((err) => this.log.error({ error: String(err) }, 'folding the journal into the config file failed; it stays in the journal'));
    }, this.opts.compactIdleMs ?? 2000);
    this.idleTimer.unref();
  }

  /** Folds the journal into the config file now (nothing to do when it is empty). */
  async compact(): Promise<void> {
    return this.serial(async () => {
      if (this.journal.count === 0 || this.raw === undefined || this.detached) return;
      await this.persist(this.raw);
    });
  }

  async commit(raw: unknown, opts: CommitOptions<C>): Promise<CommitResult> {
    return this.serial(() => this.commitLocked(raw, opts));
  }

  private async commitLocked(raw: unknown, opts: CommitOptions<C>): Promise<CommitResult> {
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
    const t0 = performance.now();

    if (opts.dryRun) {
      const planned = await this.opts.pipeline.plan(desired);
      return { dryRun: true, changed: !planned.empty, counts: planned.counts, plan: planned.text };
    }

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
      this.last = { at: Date.now(), ok: false, trigger: opts.trigger, error: message, counts: planned?.counts, durationMs: performance.now() - t0 };
      this.log.error({ trigger: opts.trigger, error: message }, 'reconcile failed');
      await this.rollback();
      throw new DaemonError('failed', `reconcile failed: ${message}`);
    }
    this.raw = raw;
    this.cfg = config;
    this.tables = desired;
    this.last = { at: Date.now(), ok: true, trigger: opts.trigger, counts: planned.counts, durationMs: performance.now() - t0 };
    this.log.info({ trigger: opts.trigger, changes: summarize(planned.counts), ms: Math.round(this.last.durationMs) }, 'reconciled');
    if (opts.persist) await this.persist(raw, opts.text);
    this.warmEdits();
    return { dryRun: false, changed: !planned.empty, counts: planned.counts, plan: planned.text };
  }

  /**
   * Once the reply to a full commit is out, builds the indexes subscriber edits look things up
   * in (about 3 s for a million subscribers), so the first move after a start or a reload does
   * not wait for them. It runs in the queue, before any edit that arrives meanwhile.
   */
  private warmEdits(): void {
    const { model, pipeline } = this.opts;
    if (!model?.warm && !pipeline.warmSubscribers) return;
    setImmediate(() => {
      void this.serial(async () => {
        const { raw, cfg, tables } = this;
        if (raw === undefined || cfg === undefined || tables === undefined || this.detached) return;
        const t0 = performance.now();
        model?.warm?.(raw);
        pipeline.warmSubscribers?.({ config: cfg, tables, raw });
        this.log.debug({ ms: Math.round(performance.now() - t0) }, 'subscriber edit indexes built');
      }).catch((err) => this.log.warn({ error: String((err as Error).message ?? err) }, 'building the subscriber edit indexes failed; the first edit builds them'));
    });
  }

  /** After a failed apply, write the previous tables back so the data plane is not left half
   * way between two configs. */
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

  /** Write the config file atomically (a temp file in the same directory, then rename); the
   * journal then starts over on top of it. */
  private async persist(raw: unknown, given?: string): Promise<void> {
    const path = this.opts.configPath;
    const text = given ?? formatConfig(raw, path, this.fileText);
    const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
    let mode = 0o644;
    try {
      mode = (await stat(path)).mode & 0o777;
    } catch {
      /* new file */
    }
    await writeFile(tmp, text, { mode });
    const fh = await open(tmp, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
    this.fileText = text;
    await rename(tmp, path);
    // Only now: a crash before the rename leaves the old file and the journal on top of it.
    this.journal.reset(text);
    this.log.info({ path }, 'config persisted');
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

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }
}

export interface SubscriberEditSummary {
  added: number;
  moved: number;
  removed: number;
  unchanged: number;
}

/**
 * The config as the daemon writes it back: JSON for a JSON file, else YAML. A large subscriber
 * list is written one flow mapping per line (valid YAML), which is fast to write and to diff.
 */
export function formatConfig(raw: unknown, path: string, current?: string): string {
  if (path.endsWith('.json') || current?.trimStart().startsWith('{')) {
    const r = raw as { subscribers?: unknown[] };
    return `${JSON.stringify(raw, null, (r.subscribers?.length ?? 0) > 10_000 ? undefined : 2)}\n`;
  }
  const head = '# managed by fecflow: API changes are written back here\n';
  const r = raw as Record<string, unknown>;
  const subs = r.subscribers;
  if (!Array.isArray(subs) || subs.length <= 10_000) return `${head}${stringify(raw, { lineWidth: 0 })}`;
  const { subscribers: _s, ...rest } = r;
  const lines = subs.map((s) => `  - ${JSON.stringify(s)}`).join('\n');
  return `${head}${stringify(rest, { lineWidth: 0 })}subscribers:\n${lines}\n`;
}

function summarize(counts: PlannedChange['counts']): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(counts)) if (v.set || v.delete) out[k] = `+${v.set} -${v.delete}`;
  return out;
}

export type { Issue };
