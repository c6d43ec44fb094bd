// Plans and applies a reconcile for the daemon with control/reconcile: the desired Tables (or
// the entries of a few subscribers) against the reconciler's shadow of the maps, written
// make-before-break.
import { desiredState, formatPlan, type DesiredChanges, type Plan, type Reconciler } from '../reconcile/index.js';
import type { Tables } from '../tables/types.js';
import type { PlannedChange } from './ports.js';

export function planReconcile(desired: Tables, reconciler: Reconciler): PlannedChange & { apply(): Promise<void> } {
  return planned(reconciler.plan(desiredState(desired)), reconciler);
}

export function planEntries(changes: DesiredChanges, reconciler: Reconciler): PlannedChange & { apply(): Promise<void> } {
  return planned(reconciler.planChanges(changes), reconciler);
}

function planned(p: Plan, reconciler: Reconciler): PlannedChange & { apply(): Promise<void> } {
  const counts: PlannedChange['counts'] = {};
  for (const d of p.diffs) counts[d.map] ??= { set: 0, delete: 0 };
  for (const s of p.steps) {
    const c = (counts[s.map] ??= { set: 0, delete: 0 });
    if (s.op === 'set') c.set += s.entries.length;
    else c.delete += s.keys.length;
  }
  return {
    counts,
    empty: p.empty,
    get text() {
      return formatPlan(p);
    },
    async apply() {
      reconciler.apply(p);
    },
  };
}
