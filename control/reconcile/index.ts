// The reconciler: the only code that writes the data plane's configuration maps. It reads
// what the maps hold, diffs against the compiled Tables, and writes make-before-break.
//
//   const p = plan(desiredState(tables), observe(maps));   // pure
//   formatPlan(p);                                          // dry run
//   apply(p, maps);                                         // batch writes, in order

import { encodeTables, labelStatsKeys, MAPS } from '../tables/layout.js';
import type { Tables } from '../tables/types.js';
import { apply, type ApplyResult } from './apply.js';
import { formatPlan } from './format.js';
import type { Desired, MapIO } from './mapio.js';
import { LABEL_STATS, observe, plan, WRITE_ORDER, type Plan } from './plan.js';
import { MemoryMap, WriteLog } from './memory.js';
import { FF_DIR_MAX, FF_MAX_ISPS, FF_MAX_NEXTHOPS, FF_MAX_NH_GROUPS } from '../tables/shared.gen.js';

export { apply, ApplyError, describeStep, type ApplyResult } from './apply.js';
export { formatPlan, summarize, type FormatOptions } from './format.js';
export type { Desired, MapIO, Observed, ObservedMap } from './mapio.js';
export { MemoryMap, WriteLog, type MemoryMapOptions, type WriteEvent } from './memory.js';
export {
  indexMap,
  LABEL_STATS,
  observe,
  plan,
  planChanges,
  planIndexed,
  planSize,
  WRITE_ORDER,
  type Change,
  type DesiredChanges,
  type IndexedMap,
  type ManagedMap,
  type MapDiff,
  type MapIndex,
  type Plan,
  type PlanStep,
} from './plan.js';
export { Reconciler } from './reconciler.js';

/** The encoded desired state of Tables: every config map, plus a counter per ILM label. */
export function desiredState(t: Tables): Desired {
  const d: Map<string, Array<[Buffer, Buffer]>> = encodeTables(t);
  // The value is a placeholder: the planner creates counters at zero, sized to the map.
  d.set(LABEL_STATS, labelStatsKeys(t).map((k) => [k, Buffer.alloc(0)]));
  return d;
}

/** Plans Tables against the maps as they are now. */
export function planTables(t: Tables, maps: Iterable<MapIO>): Plan {
  return plan(desiredState(t), observe(maps));
}

/** Reads, plans and applies; returns the plan that was applied and what it wrote. */
export function reconcile(t: Tables, maps: readonly MapIO[]): { plan: Plan; result: ApplyResult } {
  const p = planTables(t, maps);
  return { plan: p, result: apply(p, maps) };
}

/** What reconcile would do, as text, without writing. */
export function dryRun(t: Tables, maps: Iterable<MapIO>): string {
  return formatPlan(planTables(t, maps));
}

/** Array sizes of the object (dataplane/maps.h, from the constants of fecflow_shared.h). */
const ARRAY_SIZES: Record<string, number> = {
  settings: 1,
  fec_up: FF_MAX_ISPS,
  nh_group: FF_MAX_NH_GROUPS,
  nexthop: FF_MAX_NEXTHOPS,
  policer: FF_MAX_ISPS * FF_DIR_MAX,
  icmp_limit: 1,
};

/**
 * In-memory maps shaped like the object's managed maps, sharing one write log: for tests, and
 * for a dry run with no data plane. label_stats is per-CPU; its value holds `cpus` counters.
 */
export function memoryMaps(opts: { log?: WriteLog; cpus?: number } = {}): MemoryMap[] {
  const log = opts.log ?? new WriteLog();
  return WRITE_ORDER.map((name) => {
    const layout = MAPS[name];
    const valueSize = name === LABEL_STATS ? layout.value.size * (opts.cpus ?? 2) : layout.value.size;
    const size = ARRAY_SIZES[name];
    return new MemoryMap(name, {
      kind: size === undefined ? 'hash' : 'array',
      keySize: layout.key.size,
      valueSize,
      ...(size === undefined ? {} : { maxEntries: size }),
      log,
    });
  });
}
