// Running a plan: one batch call per step, in the plan's order. A step that fails stops the
// run; every step before it is complete, and because the plan is make-before-break the maps
// are consistent at that point (new entries may sit unused next to old ones). Reading the maps
// again, planning and applying converges.

import type { MapIO } from './mapio.js';
import type { Plan, PlanStep } from './plan.js';

export interface ApplyResult {
  steps: number;
  /** entries written (adds, changes, array zeroing) */
  written: number;
  /** hash entries deleted */
  deleted: number;
}

export function describeStep(s: PlanStep): string {
  if (s.op === 'delete') return `delete ${s.keys.length} from ${s.map}`;
  return s.phase === 'remove' ? `clear ${s.entries.length} in ${s.map}` : `write ${s.entries.length} to ${s.map}`;
}

export class ApplyError extends Error {
  override readonly name = 'ApplyError';
  constructor(
    /** the step that failed */
    readonly step: PlanStep,
    /** its position in plan.steps */
    readonly index: number,
    /** how many steps completed before it */
    readonly completed: ApplyResult,
    override readonly cause: unknown,
  ) {
    super(
      `reconcile stopped at step ${index + 1} (${describeStep(step)}): ${cause instanceof Error ? cause.message : String(cause)}; ` +
        `the ${index} steps before it were applied, and as writes are make-before-break forwarding is consistent — ` +
        `${step.phase === 'write' ? 'old entries are still in place' : 'some stale entries are left'}; reconcile again to converge`,
    );
  }
}

/** Applies the steps of `plan` to the maps (by name). Throws ApplyError on the first failure. */
export function apply(plan: Plan, maps: Iterable<MapIO> | ReadonlyMap<string, MapIO>): ApplyResult {
  const byName = maps instanceof Map ? (maps as ReadonlyMap<string, MapIO>) : new Map([...(maps as Iterable<MapIO>)].map((m) => [m.name, m]));
  const done: ApplyResult = { steps: 0, written: 0, deleted: 0 };
  plan.steps.forEach((step, index) => {
    const map = byName.get(step.map);
    try {
      if (!map) throw new Error(`no map named '${step.map}'`);
      if (step.op === 'set') map.setMany(step.entries);
      else map.deleteMany(step.keys);
    } catch (e) {
      throw new ApplyError(step, index, { ...done }, e);
    }
    done.steps++;
    if (step.op === 'set') done.written += step.entries.length;
    else done.deleted += step.keys.length;
  });
  return done;
}
