// Upgrading across a map-layout change without stopping forwarding. When the new BPF object
// defines a map differently from the one pinned by the running version (a value grew, a map was
// resized), the new daemon cannot adopt that pin. Instead:
//   1. plan (reads only): which maps changed; refuse, before anything is touched, when the
//      switch could not be atomic (refusals());
//   2. stage: the new object is loaded with its pins under <node>/maps_next/, where the
//      unchanged maps are pinned a second time (so both versions share them) and the changed
//      ones are created empty;
//   3. the daemon reconciles: its state (config, registry) fills the new maps, while the old
//      programs go on forwarding with the old versions of the changed maps (nobody writes
//      those any more) and the shared unchanged ones;
//   4. switch: every pinned link is moved to the new program with bpf_link_update (atomic per
//      interface; the old program, with its old maps, keeps serving until that instant);
//   5. counters: the old counter map, no longer written by any program, is kept pinned under
//      <node>/carried/ and the daemon adds its values to the new map's when it reads counters
//      (adding them into the live map would race with the programs' increments); an older
//      carried map is folded into it first. Counters that cannot be carried are logged;
//   6. repin: maps/ now names the new maps, maps_next/ and the old maps' pins go (the old maps
//      are freed by the kernel once the old programs are gone).
// A crash at any step leaves forwarding on a complete set of programs and maps; the next start
// finds either the old layout under maps/ (and migrates again) or the new one (and adopts it).
import { existsSync, mkdirSync, readdirSync, rmSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { BpfMap, XdpLink, pinnedMapChanges, type PinnedMapChange } from '../bpf/index.js';

// bpffs refuses names with a dot.
export const STAGING = 'maps_next';

/** Counter maps: the data plane writes them, so their contents cannot be rebuilt from state. */
export const COUNTER_MAPS = new Set(['isp_stats', 'label_stats', 'drop_stats']);

export interface MigrationPlan {
  changes: PinnedMapChange[];
  /** counter maps whose values are added into the new map after the switch */
  carry: string[];
  /** counter maps that restart from zero, with why (reported, never silent) */
  reset: Array<{ name: string; why: string }>;
}

export class MigrationRefused extends Error {
  constructor(readonly problems: string[]) {
    super(`cannot upgrade across this map-layout change without stopping forwarding (nothing was changed): ${problems.join('; ')}`);
    this.name = 'MigrationRefused';
  }
}

/** What a layout change needs, or undefined when every pinned map can be adopted as it is. */
export function planMigration(objectPath: string, mapDir: string): MigrationPlan | undefined {
  if (!existsSync(mapDir)) return undefined;
  const changes = pinnedMapChanges(objectPath, mapDir);
  return changes.length ? classify(changes) : undefined;
}

/** Which changed counter maps can be carried into the new layout and which restart (pure). */
export function classify(changes: PinnedMapChange[]): MigrationPlan {
  const carry: string[] = [];
  const reset: MigrationPlan['reset'] = [];
  for (const c of changes) {
    if (!COUNTER_MAPS.has(c.name)) continue; // the reconciler refills it from state
    const p = c.pinned;
    if (!p) reset.push({ name: c.name, why: 'the pin is not a map' });
    else if (p.keySize !== c.wanted.keySize || p.valueSize !== c.wanted.valueSize) {
      reset.push({ name: c.name, why: `its key or value layout changed (key ${p.keySize} -> ${c.wanted.keySize}, value ${p.valueSize} -> ${c.wanted.valueSize} bytes)` });
    } else if (p.valueSize % 8 !== 0 || p.typeName.includes('percpu') !== c.wanted.typeName.includes('percpu')) {
      reset.push({ name: c.name, why: `its values are not 64-bit counters of the same per-CPU layout in both versions (${p.typeName} -> ${c.wanted.typeName})` });
    } else carry.push(c.name);
  }
  return { changes, carry, reset };
}

/**
 * Why the switch could not be made hitless, checked before anything is created: every pinned
 * link must be an XDP bpf_link (only those can be moved to a new program atomically).
 */
export function refusals(linkDir: string): string[] {
  const problems: string[] = [];
  for (const name of existsSync(linkDir) ? readdirSync(linkDir).sort() : []) {
    try {
      XdpLink.fromPin(join(linkDir, name)).close();
    } catch (err) {
      problems.push(`${join(linkDir, name)}: ${(err as Error).message}`);
    }
  }
  return problems;
}

/** Removes what an interrupted migration left in <node>/maps_next (pins only; maps in use live on). */
export function clearStaging(nodeDir: string): void {
  const dir = join(nodeDir, STAGING);
  if (!existsSync(dir)) return;
  // One pin at a time: rmSync's recursive walk trips over bpffs (EPERM on scandir).
  for (const name of readdirSync(dir)) rmSync(join(dir, name), { force: true });
  rmdirSync(dir);
}

/** Pins every unchanged map a second time under maps_next/, so the new object adopts it there. */
export function stage(mapDir: string, nodeDir: string, plan: MigrationPlan): string {
  const staging = join(nodeDir, STAGING);
  clearStaging(nodeDir);
  mkdirSync(staging, { recursive: true });
  const changed = new Set(plan.changes.map((c) => c.name));
  for (const name of readdirSync(mapDir)) {
    if (changed.has(name)) continue;
    const m = BpfMap.fromPin(join(mapDir, name));
    try {
      m.pin(join(staging, name));
    } finally {
      m.close();
    }
  }
  return staging;
}

export const CARRIED = 'carried';

/**
 * Adds every value of `from` into `into`, per CPU and per 64-bit word. Only for a map no
 * program writes any more (a frozen old counter map): on a live one, an increment landing
 * between the read and the write would be lost.
 */
export function addCounters(from: BpfMap, into: BpfMap): { entries: number } {
  if (from.keySize !== into.keySize || from.valueBufferSize !== into.valueBufferSize) {
    throw new Error(`cannot add counters of ${from.name} into ${into.name}: key ${from.keySize}/${into.keySize}, values ${from.valueBufferSize}/${into.valueBufferSize} bytes`);
  }
  let entries = 0;
  const batch: Array<[Buffer, Buffer]> = [];
  for (const [k, v] of from.entries()) {
    const cur = into.get(k);
    const sum = Buffer.from(v);
    if (cur) {
      for (let off = 0; off + 8 <= sum.length; off += 8) sum.writeBigUInt64LE((sum.readBigUInt64LE(off) + cur.readBigUInt64LE(off)) & 0xffff_ffff_ffff_ffffn, off);
    }
    if (sum.some((b) => b !== 0)) batch.push([k, sum]);
    entries++;
  }
  if (batch.length) into.setMany(batch);
  return { entries };
}

/**
 * After the switch: keeps the old counter map `name` (now frozen) pinned as <node>/carried/<name>,
 * with the values of an earlier carried map folded in. Returns how many entries it holds.
 */
export function keepCarried(name: string, mapDir: string, nodeDir: string): number {
  const dir = join(nodeDir, CARRIED);
  mkdirSync(dir, { recursive: true });
  const old = BpfMap.fromPin(join(mapDir, name));
  try {
    const prevPin = join(dir, name);
    if (existsSync(prevPin)) {
      const prev = BpfMap.fromPin(prevPin);
      try {
        // The same map when an earlier attempt stopped between keeping it and repinning maps/:
        // folding it into itself would count it twice.
        if (prev.info().id === old.info().id) return old.entries().length;
        addCounters(prev, old);
      } finally {
        prev.close();
      }
      rmSync(prevPin, { force: true });
    }
    old.pin(prevPin);
    return old.entries().length;
  } finally {
    old.close();
  }
}

/** Drops the carried values of a counter map (its counters restart) and the carried dir once empty. */
export function dropCarried(name: string, nodeDir: string): void {
  rmSync(join(nodeDir, CARRIED, name), { force: true });
}

/** Removes every carried counter map of the node (detach, purge). */
export function clearCarried(nodeDir: string): void {
  const dir = join(nodeDir, CARRIED);
  if (!existsSync(dir)) return;
  for (const name of readdirSync(dir)) rmSync(join(dir, name), { force: true });
  rmdirSync(dir);
}

/**
 * Makes maps/ name the new object's maps: each is pinned at maps/<name> (replacing the old
 * pin), maps/ pins of maps the new object no longer has are removed, and maps_next/ goes.
 */
export function repin(maps: BpfMap[], mapDir: string, nodeDir: string): void {
  const keep = new Set<string>();
  for (const m of maps) {
    if (!m.pinPath) continue; // internal maps are never pinned
    const final = join(mapDir, m.name);
    const staged = m.pinPath;
    rmSync(final, { force: true });
    m.pin(final);
    if (staged !== final) rmSync(staged, { force: true });
    keep.add(m.name);
  }
  for (const name of readdirSync(mapDir)) if (!keep.has(name)) rmSync(join(mapDir, name), { force: true });
  try {
    rmdirSync(join(nodeDir, STAGING));
  } catch {
    clearStaging(nodeDir);
  }
}
