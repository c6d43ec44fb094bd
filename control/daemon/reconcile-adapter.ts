// Plans and applies a reconcile for the daemon: desired Tables against what the maps hold now.
// Until control/reconcile lands this holds a minimal make-before-break diff over
// control/tables/layout.ts (writes in CONFIG_MAPS order, deletions afterwards in reverse);
// the daemon only depends on `planReconcile`, so switching to control/reconcile is local.
import { CONFIG_MAPS, encodeTables, labelStatsKeys, sameConfigValue } from '../tables/layout.js';
import type { Tables } from '../tables/types.js';
import type { MapIO } from './mapio.js';
import type { PlannedChange } from './ports.js';

interface MapPlan {
  map: MapIO;
  set: Array<[Buffer, Buffer]>;
  del: Buffer[];
}

export function planReconcile(desired: Tables, maps: MapIO[], labelStats?: MapIO): PlannedChange & { apply(): Promise<void> } {
  const byName = new Map(maps.map((m) => [m.name, m]));
  const enc = encodeTables(desired);
  const plans: MapPlan[] = [];
  for (const name of CONFIG_MAPS) {
    const map = byName.get(name);
    if (!map) throw new Error(`the loaded object has no map '${name}'`);
    const want = enc.get(name) ?? [];
    const have = new Map(map.entries().map(([k, v]) => [k.toString('hex'), v]));
    const set: Array<[Buffer, Buffer]> = [];
    const wanted = new Set<string>();
    for (const [k, v] of want) {
      const hk = k.toString('hex');
      wanted.add(hk);
      const cur = have.get(hk);
      if (!cur || !sameConfigValue(name, cur, v)) set.push([k, v]);
    }
    const del: Buffer[] = [];
    if (map.kind === 'hash') {
      for (const hk of have.keys()) if (!wanted.has(hk)) del.push(Buffer.from(hk, 'hex'));
    } else {
      // Array entries cannot be deleted: a slot no longer wanted is zeroed (count 0 / no FEC).
      for (const [hk, v] of have) {
        if (!wanted.has(hk) && v.some((b) => b !== 0)) set.push([Buffer.from(hk, 'hex'), Buffer.alloc(map.valueSize)]);
      }
    }
    plans.push({ map, set, del });
  }
  const counts: PlannedChange['counts'] = {};
  let empty = true;
  const lines: string[] = [];
  for (const p of plans) {
    counts[p.map.name] = { set: p.set.length, delete: p.del.length };
    if (p.set.length || p.del.length) {
      empty = false;
      lines.push(`${p.map.name.padEnd(14)} ${String(p.set.length).padStart(7)} to write  ${String(p.del.length).padStart(7)} to delete`);
    }
  }
  return {
    counts,
    empty,
    text: empty ? 'no changes' : lines.join('\n'),
    async apply() {
      for (const p of plans) if (p.set.length) p.map.setMany(p.set);
      if (labelStats) syncLabelCounters(labelStats, desired);
      for (const p of [...plans].reverse()) if (p.del.length) p.map.deleteMany(p.del);
    },
  };
}

/** One label_stats entry per ILM label: created at zero (never reset), removed with the label. */
function syncLabelCounters(m: MapIO, t: Tables): void {
  const want = new Set(labelStatsKeys(t).map((k) => k.toString('hex')));
  const have = new Set(m.entries().map(([k]) => k.toString('hex')));
  const add = [...want].filter((k) => !have.has(k)).map((k) => [Buffer.from(k, 'hex'), Buffer.alloc(m.valueSize)] as [Buffer, Buffer]);
  if (add.length) m.setMany(add);
  const gone = [...have].filter((k) => !want.has(k)).map((k) => Buffer.from(k, 'hex'));
  if (gone.length) m.deleteMany(gone);
}
