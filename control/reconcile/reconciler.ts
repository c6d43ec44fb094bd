// A long-lived reconciler over one set of maps. It reads the maps once (when it starts, so a
// restarted daemon adopts whatever its pins hold) and keeps a shadow of their content: every
// later plan diffs against the shadow instead of reading a 65,536-slot array and a million
// classifier entries again. The shadow follows every batch that succeeds; when a batch fails,
// the maps are in a state only the kernel knows, so the shadow is dropped and the next plan
// reads the maps again. It stays the only writer of the maps, so the shadow cannot drift.

import { apply as applySteps, type ApplyResult } from './apply.js';
import type { Desired, MapIO } from './mapio.js';
import { indexMap, planChanges, planIndexed, WRITE_ORDER, type DesiredChanges, type IndexedMap, type Plan } from './plan.js';

export class Reconciler {
  private readonly maps: ReadonlyMap<string, MapIO>;
  private shadow: Map<string, IndexedMap> | undefined;
  /** how many times the maps were read whole (start, and after each failed apply) */
  reads = 0;

  constructor(maps: Iterable<MapIO>) {
    this.maps = new Map([...maps].filter((m) => (WRITE_ORDER as readonly string[]).includes(m.name)).map((m) => [m.name, m]));
  }

  /** The maps' content as the reconciler knows it; read from the kernel when unknown. */
  private observed(): Map<string, IndexedMap> {
    if (!this.shadow) {
      const s = new Map<string, IndexedMap>();
      for (const [name, m] of this.maps) s.set(name, indexMap(name, { kind: m.kind, valueSize: m.valueSize, entries: m.entries() }));
      this.shadow = s;
      this.reads++;
    }
    return this.shadow;
  }

  /** Forget the shadow: the next plan reads the maps (after someone else wrote them). */
  invalidate(): void {
    this.shadow = undefined;
  }

  /** Plans the whole desired state (every config map, label_stats) against the shadow. */
  plan(desired: Desired): Plan {
    return planIndexed(desired, this.observed());
  }

  /** Plans the listed keys only (an incremental change) against the shadow. */
  planChanges(changes: DesiredChanges): Plan {
    return planChanges(changes, this.observed());
  }

  /** Applies a plan made by this reconciler; the shadow follows the writes. */
  apply(p: Plan): ApplyResult {
    const shadow = this.observed();
    let done: ApplyResult;
    try {
      done = applySteps(p, this.maps);
    } catch (err) {
      // What a failed batch left behind only the kernel knows (a batch may stop part way).
      this.shadow = undefined;
      throw err;
    }
    for (const step of p.steps) {
      const m = shadow.get(step.map);
      if (!m) continue;
      if (step.op === 'delete' || (step.phase === 'remove' && m.kind === 'array')) {
        for (const k of step.keys) m.index.delete(k.toString('hex'));
      } else {
        for (const [k, v] of step.entries) m.index.set(k.toString('hex'), v);
      }
    }
    return done;
  }
}
