// Plans and applies a reconcile for the daemon with control/reconcile: the desired Tables
// against what the maps (and label_stats) hold now, written make-before-break.
import { apply, formatPlan, planTables } from '../reconcile/index.js';
import type { Tables } from '../tables/types.js';
import type { MapIO } from './mapio.js';
import type { PlannedChange } from './ports.js';

export function planReconcile(desired: Tables, maps: MapIO[], labelStats?: MapIO): PlannedChange & { apply(): Promise<void> } {
  const all = labelStats ? [...maps, labelStats] : maps;
  const p = planTables(desired, all);
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
      apply(p, all);
    },
  };
}
