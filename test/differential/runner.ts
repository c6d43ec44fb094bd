// The differential run: seeded tables, seeded frames, each frame through the reference model and
// through the loaded BPF programs, and every difference recorded — verdict, output bytes, and
// counter deltas. Counters are checked narrowly per frame (the isp_stats and label_stats entries
// the model says change, read before and after, plus all of drop_stats) and widely per window
// (every non-zero isp_stats and label_stats entry, against the model's totals for the window),
// so an increment the model did not predict is found too. A window that disagrees is replayed on
// a fresh object with every ISP and label entry of the tables watched, to name the frame.
//
// Every frame's generator is seeded from (seed, index) alone, so one frame can be replayed
// without the ones before it: FECFLOW_DIFF_SEED and FECFLOW_DIFF_INDEX.

import { DROP_REASONS, ispStatsIndex, meterSlot, POINTS, subPolicerIndex, type Tables } from '../../control/tables/types.js';
import { FF_METER_SLOTS } from '../../control/tables/shared.gen.js';
import { TRAFFIC_TYPES } from '../../control/daemon/usage.js';
import { forward, type ModelResult, type Program } from '../model/index.js';
import { hexdump } from '../model/frames.js';
import type { HashKey } from '../model/hash.js';
import { Dataplane, XDP_DROP, XDP_PASS, XDP_REDIRECT, type Count } from './dataplane.js';
import { generateFrame, type TestFrame } from './frames.js';
import { deriveSeed, Prng } from './prng.js';
import { randomMac, randomTables } from './tables.js';

export const INGRESS_IFINDEX = 1; // lo: test runs need an interface that exists

export interface DiffOptions {
  seed: number;
  frames: number;
  framesPerTables: number;
  /** frames between full counter checks */
  window: number;
  /** run only this frame index */
  only?: number;
}

export interface Actual {
  verdict: string;
  reasons: string[];
  frame: Buffer;
  isp: Map<number, Count>;
  labels: Map<number, Count>;
  drops: Map<string, Count>;
  /** sub_stats deltas by subCounterKey */
  subs: Map<number, Count>;
}

/** A per-subscriber counter as one number: (sub_stats index) x types + type. */
function subCounterKey(index: number, type: number): number {
  return index * TRAFFIC_TYPES.length + type;
}

/** The sub_stats indexes of every meter slot the tables use (both directions). */
function meteredIndexes(t: Tables): number[] {
  const words = [
    ...[...t.subMac.values(), ...t.subV4.values(), ...t.subV6.values()].map((c) => c.meter ?? 0),
    ...t.subVlan.map((e) => e[2] ?? 0),
    ...[...t.downV4, ...t.downV6].map(([, r]) => r.meter ?? 0),
  ];
  const slots = new Set(words.map(meterSlot).filter((s) => s !== 0 && s < FF_METER_SLOTS));
  return [...slots].flatMap((s) => [subPolicerIndex(s, 'up'), subPolicerIndex(s, 'down')]);
}

/** Reads sub_stats at the given indexes, keyed by subCounterKey. */
function readSubs(dp: Dataplane, indexes: Iterable<number>): Map<number, Count> {
  const out = new Map<number, Count>();
  for (const index of indexes) dp.subscriber(index).forEach((c, type) => out.set(subCounterKey(index, type), c));
  return out;
}

function deltas(after: Map<number, Count>, before: Map<number, Count>): Map<number, Count> {
  const out = new Map<number, Count>();
  for (const [k, c] of after) out.set(k, delta(c, before.get(k) ?? { packets: 0, bytes: 0 }));
  return nonZero(out);
}

export interface Mismatch {
  index: number;
  tableSet: number;
  program: Program;
  kinds: string[];
  description: string[];
  input: Buffer;
  expected: ModelResult;
  actual: Actual;
  notes: string[];
}

export interface DiffReport {
  frames: number;
  tableSets: number;
  elapsedMs: number;
  mismatches: Mismatch[];
  /** model outcome -> frames, to show what the run covered */
  coverage: Map<string, number>;
  windowFailures: string[];
}

interface TableSet {
  tables: Tables;
  routerMac: string;
  /** the node's ECMP key (hash_key[0]); zero in some sets, the unkeyed hash */
  hashKey: HashKey;
}

export function tableSet(seed: number, set: number): TableSet {
  const rng = new Prng(deriveSeed(seed, 0x7ab1e5, set));
  const tables = randomTables(rng.fork(), { txPorts: [INGRESS_IFINDEX], ingressIfindex: INGRESS_IFINDEX });
  const routerMac = randomMac(rng);
  const hashKey = rng.chance(0.25) ? { k0: 0, k1: 0 } : { k0: rng.bytes(4).readUInt32BE(0), k1: rng.bytes(4).readUInt32BE(0) };
  return { tables, routerMac, hashKey };
}

export function frameAt(seed: number, index: number, set: TableSet): TestFrame {
  const rng = new Prng(deriveSeed(seed, 0xf4a3e, index));
  return generateFrame(rng, { tables: set.tables, ingressIfindex: INGRESS_IFINDEX, routerMac: set.routerMac });
}

function verdictOf(retval: number): string {
  switch (retval) {
    case XDP_DROP:
      return 'drop';
    case XDP_PASS:
      return 'pass';
    case XDP_REDIRECT:
      return 'redirect';
    default:
      return `retval ${retval}`;
  }
}

function add<K>(map: Map<K, Count>, key: K, c: Count): void {
  const old = map.get(key) ?? { packets: 0, bytes: 0 };
  map.set(key, { packets: old.packets + c.packets, bytes: old.bytes + c.bytes });
}

/** The model's counter increments keyed like the maps. */
function expectedCounts(r: ModelResult): { isp: Map<number, Count>; labels: Map<number, Count>; drops: Map<string, Count>; subs: Map<number, Count> } {
  const isp = new Map<number, Count>();
  const labels = new Map<number, Count>();
  const drops = new Map<string, Count>();
  const subs = new Map<number, Count>();
  for (const c of r.counters.isp) add(isp, ispStatsIndex(c.isp, c.direction, c.point), c);
  for (const c of r.counters.labels) add(labels, c.label, c);
  for (const c of r.counters.drops) add(drops, c.reason, c);
  for (const c of r.counters.subscribers) add(subs, subCounterKey(subPolicerIndex(c.slot, c.direction), TRAFFIC_TYPES.indexOf(c.type)), c);
  return { isp, labels, drops, subs };
}

function delta(after: Count, before: Count): Count {
  return { packets: after.packets - before.packets, bytes: after.bytes - before.bytes };
}

function sameCounts<K>(a: Map<K, Count>, b: Map<K, Count>): boolean {
  const keys = new Set([...a.keys(), ...b.keys()]);
  for (const k of keys) {
    const x = a.get(k) ?? { packets: 0, bytes: 0 };
    const y = b.get(k) ?? { packets: 0, bytes: 0 };
    if (x.packets !== y.packets || x.bytes !== y.bytes) return false;
  }
  return true;
}

function nonZero<K>(m: Map<K, Count>): Map<K, Count> {
  return new Map([...m].filter(([, c]) => c.packets !== 0 || c.bytes !== 0));
}

/**
 * One frame through both sides. `watchIsp`/`watchLabels` are extra entries read around the run
 * (the replay of a failed window watches all of them).
 */
function runFrame(dp: Dataplane, set: TableSet, f: TestFrame, dropsBefore: Count[], watchIsp: number[] = [], watchLabels: number[] = [], watchSubs: number[] = []): { expected: ModelResult; actual: Actual; kinds: string[]; dropsAfter: Count[] } {
  const expected = forward(set.tables, f.program, f.frame, { ingressIfindex: INGRESS_IFINDEX, hashKey: set.hashKey });
  const want = expectedCounts(expected);
  const ispKeys = [...new Set([...want.isp.keys(), ...watchIsp])];
  const labelKeys = [...new Set([...want.labels.keys(), ...watchLabels])];
  const subIndexes = new Set([...[...want.subs.keys()].map((k) => Math.floor(k / TRAFFIC_TYPES.length)), ...watchSubs]);
  const ispBefore = ispKeys.map((k) => dp.isp(k));
  const labelBefore = labelKeys.map((k) => dp.label(k) ?? { packets: 0, bytes: 0 });
  const subsBefore = readSubs(dp, subIndexes);

  const out = dp.run(f.program, f.frame, INGRESS_IFINDEX);

  const dropsAfter = dp.drops();
  const actual: Actual = {
    verdict: verdictOf(out.retval),
    reasons: [],
    frame: out.data,
    isp: nonZero(new Map(ispKeys.map((k, i) => [k, delta(dp.isp(k), ispBefore[i])]))),
    labels: nonZero(new Map(labelKeys.map((k, i) => [k, delta(dp.label(k) ?? { packets: 0, bytes: 0 }, labelBefore[i])]))),
    drops: nonZero(new Map(DROP_REASONS.map((r, i) => [r, delta(dropsAfter[i], dropsBefore[i])]))),
    subs: deltas(readSubs(dp, subIndexes), subsBefore),
  };
  actual.reasons = [...actual.drops.keys()];

  const kinds: string[] = [];
  if (actual.verdict !== expected.verdict) kinds.push('verdict');
  else if (expected.verdict !== 'drop' && !actual.frame.equals(expected.frame)) kinds.push('frame');
  if (!sameCounts(actual.drops, want.drops)) kinds.push('drop_stats');
  if (!sameCounts(actual.isp, want.isp)) kinds.push('isp_stats');
  if (!sameCounts(actual.labels, want.labels)) kinds.push('label_stats');
  if (!sameCounts(actual.subs, want.subs)) kinds.push('sub_stats');
  return { expected, actual, kinds, dropsAfter };
}

export function runDifferential(opts: DiffOptions): DiffReport {
  const started = Date.now();
  const mismatches: Mismatch[] = [];
  const coverage = new Map<string, number>();
  const windowFailures: string[] = [];
  const first = opts.only ?? 0;
  const end = opts.only !== undefined ? opts.only + 1 : opts.frames;
  let sets = 0;

  for (let setStart = first - (first % opts.framesPerTables); setStart < end; setStart += opts.framesPerTables) {
    const setIndex = setStart / opts.framesPerTables;
    const set = tableSet(opts.seed, setIndex);
    const setEnd = Math.min(end, setStart + opts.framesPerTables);
    const dp = new Dataplane(set.tables, set.hashKey);
    sets++;
    try {
      let drops = dp.drops();
      let windowStart = Math.max(first, setStart);
      let ispAtWindow = dp.allIsp();
      let labelsAtWindow = dp.allLabels();
      // every metered slot of the tables, so a count the model did not predict is found too
      const metered = meteredIndexes(set.tables);
      let subsAtWindow = readSubs(dp, metered);
      const windowIsp = new Map<number, Count>();
      const windowLabels = new Map<number, Count>();
      const windowSubs = new Map<number, Count>();
      for (let i = windowStart; i < setEnd; i++) {
        const f = frameAt(opts.seed, i, set);
        const r = runFrame(dp, set, f, drops);
        drops = r.dropsAfter;
        const key = `${f.program} ${r.expected.verdict}${r.expected.reason ? ' ' + r.expected.reason : ''}`;
        coverage.set(key, (coverage.get(key) ?? 0) + 1);
        for (const c of r.expected.counters.subscribers) coverage.set(`meter ${c.direction} ${c.type}`, (coverage.get(`meter ${c.direction} ${c.type}`) ?? 0) + 1);
        const want = expectedCounts(r.expected);
        for (const [k, c] of want.isp) add(windowIsp, k, c);
        for (const [k, c] of want.labels) add(windowLabels, k, c);
        for (const [k, c] of want.subs) add(windowSubs, k, c);
        if (r.kinds.length > 0) {
          mismatches.push({ index: i, tableSet: setIndex, program: f.program, kinds: r.kinds, description: f.description, input: f.frame, expected: r.expected, actual: r.actual, notes: [] });
        }

        const windowDone = (i + 1 - windowStart) % opts.window === 0 || i + 1 === setEnd;
        if (windowDone) {
          const ispNow = dp.allIsp();
          const labelsNow = dp.allLabels();
          const ispDelta = new Map<number, Count>();
          for (const k of new Set([...ispNow.keys(), ...ispAtWindow.keys()])) {
            ispDelta.set(k, delta(ispNow.get(k) ?? { packets: 0, bytes: 0 }, ispAtWindow.get(k) ?? { packets: 0, bytes: 0 }));
          }
          const labelDelta = new Map<number, Count>();
          for (const k of new Set([...labelsNow.keys(), ...labelsAtWindow.keys()])) {
            labelDelta.set(k, delta(labelsNow.get(k) ?? { packets: 0, bytes: 0 }, labelsAtWindow.get(k) ?? { packets: 0, bytes: 0 }));
          }
          const subsNow = readSubs(dp, metered);
          const ispOk = sameCounts(ispDelta, windowIsp);
          const labelsOk = sameCounts(labelDelta, windowLabels);
          const subsOk = sameCounts(deltas(subsNow, subsAtWindow), windowSubs);
          if (!ispOk || !labelsOk || !subsOk) {
            windowFailures.push(`frames ${windowStart}..${i} (table set ${setIndex}): ${!ispOk ? 'isp_stats ' : ''}${!labelsOk ? 'label_stats ' : ''}${!subsOk ? 'sub_stats' : ''}`);
            mismatches.push(...replayWindow(opts.seed, setIndex, set, windowStart, i + 1, mismatches));
          }
          windowStart = i + 1;
          ispAtWindow = ispNow;
          labelsAtWindow = labelsNow;
          subsAtWindow = subsNow;
          windowIsp.clear();
          windowLabels.clear();
          windowSubs.clear();
        }
      }
    } finally {
      dp.close();
    }
  }
  return { frames: end - first, tableSets: sets, elapsedMs: Date.now() - started, mismatches, coverage, windowFailures };
}

/**
 * Replays frames [from, to) of a table set on a fresh object, watching every isp_stats entry of
 * the tables' ISPs and every ILM label, and returns the counter mismatches not already known.
 */
function replayWindow(seed: number, setIndex: number, set: TableSet, from: number, to: number, known: Mismatch[]): Mismatch[] {
  const isps = new Set<number>();
  const t = set.tables;
  const classes = [...t.subMac.values(), ...t.subV4.values(), ...t.subV6.values()].map((c) => c.isp);
  for (const v of [...classes, ...t.subVlan.map(([, i]) => i), ...t.fecUp.keys(), ...t.ispPorts.map(([, i]) => i)]) isps.add(v);
  for (const e of t.ilm.values()) if ('isp' in e && e.isp !== undefined) isps.add(e.isp);
  const watchIsp = [...isps].flatMap((isp) => (['up', 'down'] as const).flatMap((d) => POINTS.map((p) => ispStatsIndex(isp, d, p))));
  const watchLabels = [...t.ilm.keys()];
  const already = new Set(known.map((m) => m.index));
  const found: Mismatch[] = [];
  const dp = new Dataplane(t, set.hashKey);
  try {
    let drops = dp.drops();
    for (let i = from; i < to; i++) {
      const f = frameAt(seed, i, set);
      const r = runFrame(dp, set, f, drops, watchIsp, watchLabels, meteredIndexes(t));
      drops = r.dropsAfter;
      if (r.kinds.length > 0 && !already.has(i)) {
        found.push({ index: i, tableSet: setIndex, program: f.program, kinds: r.kinds, description: f.description, input: f.frame, expected: r.expected, actual: r.actual, notes: ['found by the window replay'] });
      }
    }
  } finally {
    dp.close();
  }
  return found;
}

// ---------------------------------------------------------------------------------------------
// Reporting

function countsText<K>(m: Map<K, Count>): string {
  return [...m].map(([k, c]) => `${String(k)}:${c.packets}p/${c.bytes}B`).join(' ') || '-';
}

/** Expected and actual hex dumps, line by line, differing lines marked. */
export function hexDiff(expected: Buffer, actual: Buffer): string {
  const a = hexdump(expected).split('\n');
  const b = hexdump(actual).split('\n');
  const lines: string[] = [];
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if (a[i] === b[i]) lines.push(`    ${a[i]}`);
    else {
      if (a[i] !== undefined) lines.push(`  - ${a[i]}`);
      if (b[i] !== undefined) lines.push(`  + ${b[i]}`);
    }
  }
  return lines.join('\n');
}

export function mismatchClass(m: Mismatch): string {
  const e = m.expected;
  const model = `${e.verdict}${e.reason ? ' ' + e.reason : ''}`;
  const c = `${m.actual.verdict}${m.actual.reasons.length ? ' ' + m.actual.reasons.join(',') : ''}`;
  return `${m.program}: model ${model}, C ${c} [${m.kinds.join(',')}]`;
}

export function describeMismatch(m: Mismatch, seed: number): string {
  const e = expectedCounts(m.expected);
  const lines = [
    `frame ${m.index} (table set ${m.tableSet}), replay: FECFLOW_DIFF_SEED=${seed} FECFLOW_DIFF_INDEX=${m.index}`,
    `  ${mismatchClass(m)}`,
    ...m.notes.map((n) => `  note: ${n}`),
    `  made as: ${m.description.join('; ')}`,
    `  counters model: isp ${countsText(e.isp)} | labels ${countsText(e.labels)} | drops ${countsText(e.drops)} | subs ${countsText(e.subs)}`,
    `  counters C:     isp ${countsText(m.actual.isp)} | labels ${countsText(m.actual.labels)} | drops ${countsText(m.actual.drops)} | subs ${countsText(m.actual.subs)}`,
    `  input (${m.input.length} bytes):`,
    hexdump(m.input).replace(/^/gm, '    '),
  ];
  if (m.expected.verdict !== 'drop' || m.actual.verdict !== 'drop') {
    lines.push(`  output, - model (${m.expected.frame.length} bytes) + C (${m.actual.frame.length} bytes):`);
    lines.push(hexDiff(m.expected.frame, m.actual.frame));
  }
  return lines.join('\n');
}

/** A summary by class with a few worked examples each. */
export function summarize(report: DiffReport, seed: number, examplesPerClass = 2): string {
  const byClass = new Map<string, Mismatch[]>();
  for (const m of report.mismatches) {
    const k = mismatchClass(m);
    byClass.set(k, [...(byClass.get(k) ?? []), m]);
  }
  const out = [`${report.mismatches.length} of ${report.frames} frames differ, in ${byClass.size} classes (seed ${seed})`];
  for (const w of report.windowFailures) out.push(`counter window failed: ${w}`);
  for (const [k, ms] of [...byClass].sort((a, b) => b[1].length - a[1].length)) {
    out.push('', `== ${ms.length} x ${k}`);
    for (const m of ms.slice(0, examplesPerClass)) out.push(describeMismatch(m, seed));
  }
  return out.join('\n');
}
