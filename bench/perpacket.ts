// Benchmark 1: what each forwarding path of the data plane costs per packet, with 1, 10,000 and
// 1,000,000 entries in the table it looks up, beside two floors measured the same way in the
// same run: an empty XDP_PASS program and a minimal MAC-rewrite-and-redirect forwarder.
//
// Two methods, both timed by the kernel (BPF_PROG_TEST_RUN's duration):
//
//  replay   (the headline figure) bench/progs/replay.bpf.c restores a fresh frame of the next
//           flow before every repetition and tail-calls the program under test, so one
//           test run with repeat = flows x passes walks every flow in turn with warm code, as a
//           NAPI poll loop would. Per-packet ns = the kernel's average over the repetitions;
//           it includes the harness (restore + tail call) and the test-run loop, which is why
//           the floors are measured through the same harness.
//  single   each flow's frame run once per syscall (repeat = 1); the figure is the median of the
//           kernel-reported durations over all flows. Every run starts cold after a syscall and
//           carries the timer's own overhead (~100 ns here), so only differences to the floor
//           measured the same way mean much; kept as a cross-check of the replay figures.
import { BpfObject, type BpfMap, type Program } from '../control/bpf/index.js';
import { u32 } from '../control/bpf/codec.js';
import { counterCodec } from '../control/tables/layout.js';
import { emptyTables, meterWord, subPolicerIndex, type SubClass, type Tables } from '../control/tables/types.js';
import { ether, ipv4, ipv6, udp } from '../test/helpers/frames.js';
import { seeded, shuffle, summarize, median, type Summary } from './lib/stats.js';
import { LABEL_BASE, loadTables, writeEntries, remoteV4, remoteV6, subV4, subV6, subV6Prefix } from './lib/tables.js';
import { FF_ISP_ROUTE_ENTRIES } from '../control/tables/shared.gen.js';

const LO = 1; // every egress port is lo: devmap accepts it, and it exists in every namespace

// Subscribers sit on the untagged access port lo (the frames' ingress): one shared line per ISP.
const lines = new Map<number, SubClass>();
function lineOf(isp: number): SubClass {
  let c = lines.get(isp);
  if (!c) lines.set(isp, (c = { isp, ifindex: LO, outerVid: 0, innerVid: 0 }));
  return c;
}
const ROUTER = '02:00:00:00:00:01';
const UPSTREAM = '02:00:00:00:40:01';
const CORE_NH = '02:00:00:00:20:01';
const ISP_NH = '02:00:00:00:30:01';
const G_CORE = 1;
const G_ISP = 2;
/** isp_route tables hold at most this many entries. */
const ISP_ROUTE_MAX = FF_ISP_ROUTE_ENTRIES;
const XDP_REDIRECT = 4;

export type ProgName = 'xdp_access' | 'xdp_core' | 'xdp_isp';

export interface PathCase {
  id: string;
  title: string;
  prog: ProgName;
  /** the map whose size is the scale, and the map lookups one packet makes (fecflow.bpf.c) */
  scaledMap: string;
  lookups: string[];
  /** entries actually loaded for a requested scale n */
  entries(n: number): number;
  tables(n: number): Tables;
  /** the frame of flow f, drawn with rand; all frames of a path have the same length */
  frame(n: number, f: number, rand: () => number): Buffer;
}

const cpeMac = (i: number) => `02:10:${[(i >>> 24) & 255, (i >>> 16) & 255, (i >>> 8) & 255, i & 255].map((x) => x.toString(16).padStart(2, '0')).join(':')}`;
const ispCount = (n: number) => Math.min(n, 1000);
const ispOf = (i: number, n: number) => 1 + (i % ispCount(n));
const label = (i: number) => LABEL_BASE + i;
const pick = (n: number, rand: () => number) => Math.floor(rand() * n);
const port = (rand: () => number) => 1024 + Math.floor(rand() * 60000);

/** UDP payload that brings an IP packet to the wanted frame length. */
function padTo(frameLen: number, overhead: number): Buffer {
  return Buffer.alloc(Math.max(0, frameLen - overhead), 0x5a);
}

function routerTables(n: number): Tables {
  const t = emptyTables();
  t.txPorts.add(LO);
  t.nexthops.set(1, { ifindex: LO, mtu: 1500, vid: 0, dmac: CORE_NH, smac: ROUTER });
  t.nexthops.set(2, { ifindex: LO, mtu: 1500, vid: 0, dmac: ISP_NH, smac: ROUTER });
  t.nhGroups.set(G_CORE, { nexthops: [1] });
  t.nhGroups.set(G_ISP, { nexthops: [2] });
  for (let k = 1; k <= ispCount(n); k++) t.fecUp.set(k, { labels: [label(k)], tc: 0, nhGroup: G_CORE });
  t.local.add('192.0.2.1');
  t.local.add('2001:db8:ffff:ffff::1');
  return t;
}

function v4Flow(src: string, dst: string, rand: () => number, frameLen: number, ttl = 64): Buffer {
  return ipv4({ src, dst, ttl, l4: udp(port(rand), 443, padTo(frameLen, 14 + 20 + 8)) });
}

function labelled(l: number, ip: Buffer): Buffer {
  return ether({ dst: ROUTER, src: UPSTREAM, labels: [{ label: l, ttl: 64 }], payload: ip });
}

/** A random permutation of 0..n-1 (the swap chain visits labels in this order). */
function permutation(n: number, rand: () => number): Int32Array {
  const p = new Int32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    const x = p[i]!;
    p[i] = p[j]!;
    p[j] = x;
  }
  return p;
}

export const PATHS: PathCase[] = [
  {
    id: 'access-v4',
    title: 'access push IPv4',
    prog: 'xdp_access',
    scaledMap: 'sub_v4_exact (/32 per subscriber)',
    lookups: ['local (hash)', 'settings', 'sub_v4_exact (hash; sub_mac empty, not looked up)', 'fec_up', 'nh_group', 'nexthop', 'policer', 'isp_stats (per-CPU)', 'tx_port (devmap)'],
    entries: (n) => n,
    tables(n) {
      const t = routerTables(n);
      for (let i = 0; i < n; i++) t.subV4.set(`${subV4(i)}/32`, lineOf(ispOf(i, n)));
      return t;
    },
    frame(n, f, rand) {
      const i = pick(n, rand);
      return ether({ dst: ROUTER, src: cpeMac(i), payload: v4Flow(subV4(i), remoteV4(f), rand, 64) });
    },
  },
  {
    // the same as access push IPv4, with a meter slot in every subscriber's classifier entry:
    // each packet is also counted in sub_stats[slot] (one more line of a million-entry array)
    id: 'access-v4-metered',
    title: 'access push IPv4 + meter',
    prog: 'xdp_access',
    scaledMap: 'sub_v4_exact (/32 per subscriber, each with a meter slot)',
    lookups: ['local (hash)', 'settings', 'sub_v4_exact (hash; sub_mac empty, not looked up)', 'fec_up', 'nh_group', 'nexthop', 'policer', 'isp_stats (per-CPU)', 'sub_stats (array, by the slot in the entry; atomic adds)', 'tx_port (devmap)'],
    entries: (n) => n,
    tables(n) {
      const t = routerTables(n);
      for (let i = 0; i < n; i++) t.subV4.set(`${subV4(i)}/32`, { ...lineOf(ispOf(i, n)), meter: meterWord(i + 1, false) });
      return t;
    },
    frame(n, f, rand) {
      const i = pick(n, rand);
      return ether({ dst: ROUTER, src: cpeMac(i), payload: v4Flow(subV4(i), remoteV4(f), rand, 64) });
    },
  },
  {
    // metered and rate-limited: the subscriber's own bucket (sub_policer hash) as well; a rate
    // no flow reaches, so every packet passes
    id: 'access-v4-rate',
    title: 'access push IPv4 + meter + rate',
    prog: 'xdp_access',
    scaledMap: 'sub_v4_exact (/32 per subscriber, each with a meter slot and a policer)',
    lookups: ['local (hash)', 'settings', 'sub_v4_exact (hash)', 'fec_up', 'nh_group', 'nexthop', 'sub_policer (hash, spin lock)', 'policer', 'isp_stats (per-CPU)', 'sub_stats (array; atomic adds)', 'tx_port (devmap)'],
    entries: (n) => n,
    tables(n) {
      const t = routerTables(n);
      for (let i = 0; i < n; i++) {
        t.subV4.set(`${subV4(i)}/32`, { ...lineOf(ispOf(i, n)), meter: meterWord(i + 1, true) });
        t.subPolicers.set(subPolicerIndex(i + 1, 'up'), { rate: 1n << 40n, burst: 1n << 40n });
      }
      return t;
    },
    frame(n, f, rand) {
      const i = pick(n, rand);
      return ether({ dst: ROUTER, src: cpeMac(i), payload: v4Flow(subV4(i), remoteV4(f), rand, 64) });
    },
  },
  {
    id: 'access-v6',
    title: 'access push IPv6',
    prog: 'xdp_access',
    scaledMap: 'sub_v6_exact (/64 per subscriber)',
    lookups: ['local (hash)', 'settings', 'sub_v6_exact (hash; sub_mac empty, not looked up)', 'fec_up', 'nh_group', 'nexthop', 'policer', 'isp_stats (per-CPU)', 'tx_port (devmap)'],
    entries: (n) => n,
    tables(n) {
      const t = routerTables(n);
      for (let i = 0; i < n; i++) t.subV6.set(`${subV6Prefix(i)}/64`, lineOf(ispOf(i, n)));
      return t;
    },
    frame(n, f, rand) {
      const i = pick(n, rand);
      const ip = ipv6({ src: subV6(i, Math.floor(rand() * 2 ** 32)), dst: remoteV6(f), hopLimit: 64, l4: udp(port(rand), 443, padTo(80, 14 + 40 + 8)) });
      return ether({ dst: ROUTER, src: cpeMac(i), payload: ip });
    },
  },
  {
    id: 'core-swap',
    title: 'core swap',
    prog: 'xdp_core',
    scaledMap: 'ilm (swap entries)',
    lookups: ['settings', 'ilm (hash)', 'label_stats (per-CPU hash)', 'nh_group', 'nexthop', 'tx_port (devmap)'],
    entries: (n) => n,
    tables(n) {
      const t = routerTables(n);
      const p = permutation(n, seeded(n));
      for (let j = 0; j < n; j++) t.ilm.set(label(p[j]!), { action: 'swap', labels: [label(p[(j + 1) % n]!)], tc: 0, nhGroup: G_CORE });
      return t;
    },
    frame(n, f, rand) {
      return labelled(label(pick(n, rand)), v4Flow(subV4(f), remoteV4(f), rand, 64 - 4));
    },
  },
  {
    id: 'core-pop-isp',
    title: 'core pop → ISP',
    prog: 'xdp_core',
    scaledMap: 'ilm (pop-to-isp entries)',
    lookups: ['settings', 'ilm (hash)', 'label_stats (per-CPU hash)', 'nh_group', 'nexthop', 'isp_stats (per-CPU)', 'tx_port (devmap)'],
    entries: (n) => n,
    tables(n) {
      const t = routerTables(n);
      for (let i = 0; i < n; i++) t.ilm.set(label(i), { action: 'pop-to-isp', isp: ispOf(i, n), nhGroup: G_ISP });
      return t;
    },
    frame(n, f, rand) {
      return labelled(label(pick(n, rand)), v4Flow(subV4(f), remoteV4(f), rand, 64 - 4));
    },
  },
  {
    id: 'core-pop-sub',
    title: 'core pop → subscriber',
    prog: 'xdp_core',
    scaledMap: 'down_v4_exact (/32 per subscriber, scoped by ISP)',
    lookups: ['settings', 'ilm (hash)', 'label_stats (per-CPU hash)', 'down_v4_exact (hash)', 'isp_stats (per-CPU)', 'tx_port (devmap)'],
    entries: (n) => n,
    tables(n) {
      const t = routerTables(n);
      for (let k = 1; k <= ispCount(n); k++) t.ilm.set(label(k), { action: 'pop-to-sub', isp: k });
      for (let i = 0; i < n; i++) {
        t.downV4.push([{ isp: ispOf(i, n), prefix: `${subV4(i)}/32` }, { ifindex: LO, mtu: 1500, outerTpid: 0, outerVid: 0, innerVid: 0, dmac: cpeMac(i), smac: ROUTER }]);
      }
      return t;
    },
    frame(n, f, rand) {
      const i = pick(n, rand);
      return labelled(label(ispOf(i, n)), v4Flow(remoteV4(f), subV4(i), rand, 64 - 4));
    },
  },
  {
    id: 'core-pop-sub-metered',
    title: 'core pop → subscriber + meter',
    prog: 'xdp_core',
    scaledMap: 'down_v4_exact (/32 per subscriber, scoped by ISP, each with a meter slot)',
    lookups: ['settings', 'ilm (hash)', 'label_stats (per-CPU hash)', 'down_v4_exact (hash)', 'isp_stats (per-CPU)', 'sub_stats (array; atomic adds)', 'tx_port (devmap)'],
    entries: (n) => n,
    tables(n) {
      const t = routerTables(n);
      for (let k = 1; k <= ispCount(n); k++) t.ilm.set(label(k), { action: 'pop-to-sub', isp: k });
      for (let i = 0; i < n; i++) {
        t.downV4.push([{ isp: ispOf(i, n), prefix: `${subV4(i)}/32` }, { ifindex: LO, mtu: 1500, outerTpid: 0, outerVid: 0, innerVid: 0, dmac: cpeMac(i), smac: ROUTER, meter: meterWord(i + 1, false) }]);
      }
      return t;
    },
    frame(n, f, rand) {
      const i = pick(n, rand);
      return labelled(label(ispOf(i, n)), v4Flow(remoteV4(f), subV4(i), rand, 64 - 4));
    },
  },
  {
    id: 'isp-push',
    title: 'isp push',
    prog: 'xdp_isp',
    scaledMap: `isp_route_v4_exact (/32 per subscriber; at most ${ISP_ROUTE_MAX})`,
    lookups: ['local (hash)', 'isp_port (hash)', 'settings', 'isp_route_v4_exact (hash)', 'nh_group', 'nexthop', 'policer', 'isp_stats (per-CPU)', 'tx_port (devmap)'],
    entries: (n) => Math.min(n, ISP_ROUTE_MAX),
    tables(n) {
      const t = routerTables(n);
      const m = Math.min(n, ISP_ROUTE_MAX);
      t.ispPorts.push([{ ifindex: LO, vid: 0 }, 1]);
      for (let i = 0; i < m; i++) t.ispRouteV4.push([{ isp: 1, prefix: `${subV4(i)}/32` }, { labels: [label(1 + (i % 1000))], tc: 0, nhGroup: G_CORE }]);
      return t;
    },
    frame(n, f, rand) {
      const i = pick(Math.min(n, ISP_ROUTE_MAX), rand);
      return ether({ dst: ROUTER, src: ISP_NH, payload: v4Flow(remoteV4(f), subV4(i), rand, 64) });
    },
  },
];

// ---- the harness ---------------------------------------------------------------------

export interface PerPacketOptions {
  scales: number[];
  flows: number;
  /** replay: test runs per target (each one walks every flow `passes` times) */
  rounds: number;
  passes: number;
  /** single: passes over every flow, one syscall per frame */
  singleRounds: number;
  paths?: string[];
  log: (msg: string) => void;
}

export interface MethodFigures {
  /** ns per packet, median over rounds (min, max) */
  path: Summary;
  pass: Summary;
  fwd: Summary;
}

export interface PathResult {
  id: string;
  title: string;
  program: ProgName;
  scale: number;
  entries: number;
  scaledMap: string;
  lookups: string[];
  flows: number;
  frameBytes: number;
  loadSeconds: number;
  replay: MethodFigures;
  single: MethodFigures;
}

export interface ProgramProfile {
  program: string;
  verifiedInsns: number;
  xlatedInsns: number;
  jitedBytes: number;
}

export interface PerPacketResult {
  results: PathResult[];
  lookups: LookupResult[];
  programs: ProgramProfile[];
}

interface Harness {
  floors: BpfObject;
  replay: BpfObject;
  close(): void;
}

function openHarness(progDir: string): Harness {
  const floors = BpfObject.open(`${progDir}/floor.bpf.o`);
  let replay: BpfObject | undefined;
  try {
    replay = BpfObject.open(`${progDir}/replay.bpf.o`);
    const nh = Buffer.alloc(16);
    nh.writeUInt32LE(LO, 0);
    Buffer.from(CORE_NH.split(':').map((x) => parseInt(x, 16))).copy(nh, 4);
    Buffer.from(ROUTER.split(':').map((x) => parseInt(x, 16))).copy(nh, 10);
    floors.map('floor_nh').set(u32.encode(0), nh);
    floors.map('floor_port').set(u32.encode(LO), u32.encode(LO));
  } catch (e) {
    floors.close();
    replay?.close();
    throw e;
  }
  const r = replay;
  return { floors, replay: r, close: () => (floors.close(), r.close()) };
}

function setTemplates(replay: BpfObject, frames: Buffer[]): number {
  const len = Math.ceil(frames[0]!.length / 8) * 8;
  if (len > 128) throw new Error(`frames of ${frames[0]!.length} bytes: the replay harness holds 128`);
  const tm = replay.map('replay_tmpl');
  const entries = frames.map((f, i) => {
    const v = Buffer.alloc(tm.valueSize);
    f.copy(v);
    return [u32.encode(i), v] as [Buffer, Buffer];
  });
  tm.setMany(entries);
  const cfg = Buffer.alloc(8);
  cfg.writeUInt32LE(frames.length, 0);
  cfg.writeUInt32LE(len, 4);
  replay.map('replay_cfg').set(u32.encode(0), cfg);
  return len;
}

function dropCount(m: BpfMap): bigint {
  let n = 0n;
  for (const [, v] of m.entries()) for (const c of m.splitPerCpu(v)) n += counterCodec.decode(c).packets;
  return n;
}

type Timings = Record<string, { replay: number[]; single: number[] }>;

/**
 * Times each target on the frames by both methods, the targets interleaved round by round so
 * that drift on the machine hits all of them alike. Returns the per-round figures (ns/packet).
 */
function timeTargets(h: Harness, frames: Buffer[], targets: Array<[string, Program]>, opts: PerPacketOptions, rand: () => number): Timings {
  const out: Timings = Object.fromEntries(targets.map(([k]) => [k, { replay: [], single: [] }]));
  const pad = Math.ceil(frames[0]!.length / 8) * 8 - frames[0]!.length;
  const padded = pad ? frames.map((f) => Buffer.concat([f, Buffer.alloc(pad)])) : frames;

  const len = setTemplates(h.replay, padded);
  const data = Buffer.alloc(len, 0);
  const replayProg = h.replay.program('xdp_replay');
  const slot = h.replay.map('replay_target');
  try {
    for (let r = 0; r < opts.rounds; r++) {
      for (const [k, p] of targets) {
        slot.set(u32.encode(0), u32.encode(p.fd));
        const res = replayProg.testRun({ data, ingressIfindex: LO, repeat: frames.length * opts.passes, dataOutSize: len + 64 });
        if (res.retval === 0) throw new Error(`the replay harness aborted (tail call into ${p.name} failed?)`);
        out[k]!.replay.push(res.durationNs);
      }
    }
  } finally {
    slot.delete(u32.encode(0));
  }

  const order = frames.map((_, i) => i);
  for (let r = 0; r < opts.singleRounds; r++) {
    shuffle(order, rand);
    const per: Record<string, number[]> = Object.fromEntries(targets.map(([k]) => [k, []]));
    for (const i of order) {
      const fr = frames[i]!;
      for (const [k, p] of targets) per[k]!.push(p.testRun({ data: fr, ingressIfindex: LO, dataOutSize: fr.length + 64 }).durationNs);
    }
    for (const [k] of targets) out[k]!.single.push(median(per[k]!));
  }
  return out;
}

function floorTargets(h: Harness): Array<[string, Program]> {
  return [
    ['pass', h.floors.program('xdp_floor_pass')],
    ['fwd', h.floors.program('xdp_floor_fwd')],
  ];
}

function figures(t: Timings, method: 'replay' | 'single'): MethodFigures {
  return { path: summarize(t.path![method]), pass: summarize(t.pass![method]), fwd: summarize(t.fwd![method]) };
}

function measure(h: Harness, dp: BpfObject, c: PathCase, n: number, opts: PerPacketOptions): Omit<PathResult, 'loadSeconds'> {
  const rand = seeded(0xfec + n);
  const frames = Array.from({ length: opts.flows }, (_, f) => c.frame(n, f, rand));
  const prog = dp.program(c.prog);
  // Every flow must take the path being measured: forwarded, not dropped or passed.
  for (const fr of frames) {
    const r = prog.testRun({ data: fr, ingressIfindex: LO, dataOutSize: fr.length + 64 });
    if (r.retval !== XDP_REDIRECT) throw new Error(`${c.id}: a flow returned XDP action ${r.retval}, not REDIRECT; the tables do not fit the frames`);
  }
  const drops = dp.map('drop_stats');
  const dropsBefore = dropCount(drops);
  const t = timeTargets(h, frames, [...floorTargets(h), ['path', prog]], opts, rand);
  const dropsAfter = dropCount(drops);
  if (dropsAfter !== dropsBefore) throw new Error(`${c.id}: ${dropsAfter - dropsBefore} packets were dropped while measuring`);
  return {
    id: c.id,
    title: c.title,
    program: c.prog,
    scale: n,
    entries: c.entries(n),
    scaledMap: c.scaledMap,
    lookups: c.lookups,
    flows: opts.flows,
    frameBytes: frames[0]!.length,
    replay: figures(t, 'replay'),
    single: figures(t, 'single'),
  };
}

export interface LookupResult {
  entries: number;
  /** ns/packet by the replay method: one LPM trie lookup, one hash lookup, the XDP_PASS floor */
  lpm: Summary;
  hash: Summary;
  /** the same hash map with BPF_F_NO_PREALLOC */
  hashNoPrealloc: Summary;
  pass: Summary;
  loadSeconds: { lpm: number; hash: number };
}

/** The classifier lookup alone: n IPv4 /32 entries in an LPM trie and in a hash map. */
function measureLookups(h: Harness, progDir: string, n: number, opts: PerPacketOptions): LookupResult {
  const o = BpfObject.open(`${progDir}/lookup.bpf.o`);
  try {
    const lpm: Array<[Buffer, Buffer]> = [];
    const hash: Array<[Buffer, Buffer]> = [];
    const one = u32.encode(1);
    for (let i = 0; i < n; i++) {
      const k = Buffer.alloc(8);
      k.writeUInt32LE(32, 0);
      k.writeUInt32BE((0x64400000 + i) >>> 0, 4);
      lpm.push([k, one]);
      hash.push([k.subarray(4), one]);
    }
    let t0 = performance.now();
    writeEntries(o.map('lookup_lpm'), lpm);
    const lpmSeconds = (performance.now() - t0) / 1000;
    t0 = performance.now();
    writeEntries(o.map('lookup_hash'), hash);
    writeEntries(o.map('lookup_hash_np'), hash);
    const hashSeconds = (performance.now() - t0) / 1000;
    const rand = seeded(0x100c + n);
    const access = PATHS.find((p) => p.id === 'access-v4')!;
    const frames = Array.from({ length: opts.flows }, (_, f) => access.frame(n, f, rand));
    const targets: Array<[string, Program]> = [['pass', h.floors.program('xdp_floor_pass')], ['lpm', o.program('xdp_lookup_lpm')], ['hash', o.program('xdp_lookup_hash')], ['hashNp', o.program('xdp_lookup_hash_np')]];
    for (const [k, p] of targets.slice(1)) {
      if (p.testRun({ data: frames[0]!, ingressIfindex: LO }).retval !== 2) throw new Error(`lookup ${k}: the flow's address is not in the table`);
    }
    const t = timeTargets(h, frames, targets, { ...opts, singleRounds: 0 }, rand);
    return { entries: n, lpm: summarize(t.lpm!.replay), hash: summarize(t.hash!.replay), hashNoPrealloc: summarize(t.hashNp!.replay), pass: summarize(t.pass!.replay), loadSeconds: { lpm: lpmSeconds, hash: hashSeconds } };
  } finally {
    o.close();
  }
}

export function programProfiles(objectPath: string): ProgramProfile[] {
  const dp = BpfObject.open(objectPath);
  try {
    return dp.programs().map((p) => {
      const i = p.info();
      return { program: p.name, verifiedInsns: i.verifiedInsns, xlatedInsns: i.xlatedSize / 8, jitedBytes: i.jitedSize };
    });
  } finally {
    dp.close();
  }
}

export function runPerPacket(objectPath: string, progDir: string, opts: PerPacketOptions): PerPacketResult {
  const h = openHarness(progDir);
  const results: PathResult[] = [];
  const lookups: LookupResult[] = [];
  try {
    for (const n of opts.scales) {
      for (const c of PATHS) {
        if (opts.paths && !opts.paths.includes(c.id)) continue;
        const dp = BpfObject.open(objectPath);
        try {
          const t0 = performance.now();
          loadTables(dp, c.tables(n));
          const loadSeconds = (performance.now() - t0) / 1000;
          const r = { ...measure(h, dp, c, n, opts), loadSeconds };
          results.push(r);
          opts.log(`  ${c.title.padEnd(22)} ${String(r.entries).padStart(8)} entries: ${r.replay.path.median.toFixed(1)} ns/pkt (floors ${r.replay.pass.median.toFixed(1)} / ${r.replay.fwd.median.toFixed(1)}); single ${r.single.path.median.toFixed(0)} ns (floors ${r.single.pass.median.toFixed(0)} / ${r.single.fwd.median.toFixed(0)}); tables loaded in ${loadSeconds.toFixed(1)} s`);
        } finally {
          dp.close();
        }
      }
      const l = measureLookups(h, progDir, n, opts);
      lookups.push(l);
      opts.log(`  one lookup, ${String(n).padStart(8)} /32 entries: LPM trie ${l.lpm.median.toFixed(1)} ns/pkt, hash ${l.hash.median.toFixed(1)} ns/pkt, hash without prealloc ${l.hashNoPrealloc.median.toFixed(1)} ns/pkt (XDP_PASS floor ${l.pass.median.toFixed(1)})`);
    }
  } finally {
    h.close();
  }
  return { results, lookups, programs: programProfiles(objectPath) };
}
