// Benchmark 2: packets per second end to end, headend → LSR → tailend on veths, subscriber to
// ISP, beside the same chain of namespaces doing plain kernel IPv4 forwarding, beside the
// like-for-like kernel baseline (the same subscribers classified to their ISP by an nftables
// map that sets a mark, and `ip rule fwmark` choosing the ISP's routing table: ./lib/nft.ts),
// and beside a minimal XDP forwarder (MAC rewrite + redirect on every router: the ceiling of any
// XDP forwarder on this chain).
//
// The generator is bench/progs/traffic.bpf.c's xdp_gen run as a live-frames test run in the gen
// namespace: each frame gets the template header and the next subscriber's source address, and
// is redirected into the veth towards the headend. The ISP host's xdp_sink counts and drops.
// Veth delivers an XDP redirect only to a peer with an XDP program, so in the kernel-forwarding
// run the headend's access port has an XDP_PASS program (xdp_floor_pass) and nothing else does.
// Everything the generator sends is processed on its own CPU (veth NAPI runs where it was
// raised), so a figure is the whole chain's per-packet cost on one CPU.
import { setTimeout as sleep } from 'node:timers/promises';
import { BpfObject, withNetns, type Program, type XdpLink } from '../control/bpf/index.js';
import { u32 } from '../control/bpf/codec.js';
import { counterCodec } from '../control/tables/layout.js';
import { DROP_REASONS, emptyTables, type Tables } from '../control/tables/types.js';
import { ether, ipv4, macBytes, udp } from '../test/helpers/frames.js';
import { buildChain, type Chain, type Port } from './lib/chain.js';
import { nftBaseline, type NftBaseline } from './lib/nft.js';
import { summarize, type Summary } from './lib/stats.js';
import { LABEL_BASE, loadTables, subV4 } from './lib/tables.js';

export interface EndToEndOptions {
  /** subscribers (IPv4 /32) in the headend's sub_v4_exact */
  subscribers: number;
  /** distinct source addresses the generator cycles through, spread over the subscribers */
  flows: number;
  frameSizes: number[];
  /** seconds of traffic per measurement */
  seconds: number;
  rounds: number;
  log: (msg: string) => void;
}

export type Mode = 'kernel' | 'nft' | 'xdp-fwd' | 'fecflow';
export const MODES: Mode[] = ['kernel', 'nft', 'xdp-fwd', 'fecflow'];

export interface RateFigures {
  /** Mpps delivered to the ISP host over the generator's kernel-timed run, median over rounds */
  mpps: Summary;
  /** the same over wall-clock time (lower when other work shares the CPU) */
  wallMpps: Summary;
  /** delivered / sent, over all rounds */
  delivered: number;
}

export interface EndToEndResult {
  subscribers: number;
  isps: number;
  flows: number;
  secondsPerRun: number;
  tableLoadSeconds: number;
  /** the nftables baseline's set-up: its map of every subscriber and the per-ISP routing tables */
  nftLoadSeconds: { map: number; tables: number };
  sizes: Array<{ frameBytes: number } & Record<Mode, RateFigures> & { ratioKernel: number; ratioNft: number; ratioXdpFwd: number }>;
  /** packets the fecflow routers dropped (by reason) during the runs; should be none */
  fecflowDrops: Record<string, number>;
}

const ISPS = 1000;
const DST = '198.18.0.1';
const label = (i: number) => LABEL_BASE + i;

function routerTables(egress: Port, next: Port): Tables {
  const t = emptyTables();
  t.txPorts.add(egress.ifindex);
  t.nexthops.set(1, { ifindex: egress.ifindex, mtu: 1500, vid: 0, dmac: next.mac, smac: egress.mac });
  t.nhGroups.set(1, { nexthops: [1] });
  return t;
}

function fecflowTables(c: Chain, subscribers: number): Record<'headend' | 'lsr' | 'tailend', Tables> {
  const { ha, hc, la, lb, tc, ti, ii } = c.ports;
  const he = routerTables(hc, la);
  he.local.add(ha.addr);
  he.local.add(hc.addr);
  for (let k = 1; k <= ISPS; k++) he.fecUp.set(k, { labels: [label(k)], tc: 0, nhGroup: 1 });
  // every subscriber is on the untagged access port ha (the generator's link)
  const lines = Array.from({ length: ISPS }, (_, k) => ({ isp: k + 1, ifindex: ha.ifindex, outerVid: 0, innerVid: 0 }));
  for (let i = 0; i < subscribers; i++) he.subV4.set(`${subV4(i)}/32`, lines[i % ISPS]!);
  const lsr = routerTables(lb, tc);
  for (let k = 1; k <= ISPS; k++) lsr.ilm.set(label(k), { action: 'swap', labels: [label(ISPS + k)], tc: 0, nhGroup: 1 });
  const te = routerTables(ti, ii);
  for (let k = 1; k <= ISPS; k++) te.ilm.set(label(ISPS + k), { action: 'pop-to-isp', isp: k, nhGroup: 1 });
  return { headend: he, lsr, tailend: te };
}

function floorObject(path: string, egress: Port, next: Port): BpfObject {
  const o = BpfObject.open(path);
  const nh = Buffer.alloc(16);
  nh.writeUInt32LE(egress.ifindex, 0);
  macBytes(next.mac).copy(nh, 4);
  macBytes(egress.mac).copy(nh, 10);
  o.map('floor_nh').set(u32.encode(0), nh);
  withNetns(egress.ns, () => o.map('floor_port').set(u32.encode(egress.ifindex), u32.encode(egress.ifindex)));
  return o;
}

function template(c: Chain, frameBytes: number): Buffer {
  const payload = Buffer.alloc(frameBytes - 14 - 20 - 8, 0x5a);
  return ether({ dst: c.ports.ha.mac, src: c.ports.g0.mac, payload: ipv4({ src: subV4(0), dst: DST, ttl: 64, l4: udp(40000, 9, payload) }) });
}

function sumCounter(m: { get(k: Buffer): Buffer | undefined; splitPerCpu(v: Buffer): Buffer[] }, key: number): bigint {
  const v = m.get(u32.encode(key));
  let n = 0n;
  if (v) for (const c of m.splitPerCpu(v)) n += counterCodec.decode(c).packets;
  return n;
}

export async function runEndToEnd(objectPath: string, progDir: string, opts: EndToEndOptions): Promise<EndToEndResult> {
  const chain = buildChain();
  const objects: BpfObject[] = [];
  const own = (o: BpfObject) => (objects.push(o), o);
  let nft: NftBaseline | undefined;
  try {
    const { g0, ha, hc, la, lb, tc, ti, ii } = chain.ports;
    const traffic = own(BpfObject.open(`${progDir}/traffic.bpf.o`));
    const passFloor = own(BpfObject.open(`${progDir}/floor.bpf.o`));
    const fwd = [own(floorObject(`${progDir}/floor.bpf.o`, hc, la)), own(floorObject(`${progDir}/floor.bpf.o`, lb, tc)), own(floorObject(`${progDir}/floor.bpf.o`, ti, ii))];
    const routers = { headend: own(BpfObject.open(objectPath)), lsr: own(BpfObject.open(objectPath)), tailend: own(BpfObject.open(objectPath)) };

    const t0 = performance.now();
    const tables = fecflowTables(chain, opts.subscribers);
    for (const r of ['headend', 'lsr', 'tailend'] as const) withNetns(chain.ns[r], () => loadTables(routers[r], tables[r]));
    const tableLoadSeconds = (performance.now() - t0) / 1000;
    opts.log(`  chain built; ${opts.subscribers} subscribers and ${ISPS} ISPs loaded in ${tableLoadSeconds.toFixed(1)} s`);
    nft = nftBaseline({
      ns: chain.ns.headend,
      source: subV4,
      subscribers: opts.subscribers,
      ispOf: (i) => (i % ISPS) + 1,
      isps: ISPS,
      route: { prefix: chain.dstPrefix, via: la.addr, dev: hc.name },
    });
    opts.log(`  nftables baseline: map of ${opts.subscribers} subscribers in ${nft.mapLoadSeconds.toFixed(1)} s, ${ISPS} routing tables in ${nft.tablesLoadSeconds.toFixed(1)} s`);

    chain.attach(ii, traffic.program('xdp_sink'));
    withNetns(chain.ns.gen, () => traffic.map('gen_port').set(u32.encode(g0.ifindex), u32.encode(g0.ifindex)));
    const gen = traffic.program('xdp_gen');
    const sink = traffic.map('sink_count');
    const flows = Math.max(1, Math.min(opts.flows, opts.subscribers));

    const modePrograms: Record<Mode, Array<[Port, Program]>> = {
      kernel: [[ha, passFloor.program('xdp_floor_pass')]],
      nft: [[ha, passFloor.program('xdp_floor_pass')]],
      'xdp-fwd': [[ha, fwd[0]!.program('xdp_floor_fwd')], [la, fwd[1]!.program('xdp_floor_fwd')], [tc, fwd[2]!.program('xdp_floor_fwd')]],
      fecflow: [[ha, routers.headend.program('xdp_access')], [la, routers.lsr.program('xdp_core')], [tc, routers.tailend.program('xdp_core')]],
    };

    // One measurement: the generator sends `count` frames; the rate is what reached the ISP.
    // The kernel times the run (BPF_PROG_TEST_RUN's duration x repeat) leaving out the time the
    // generator was scheduled out; the veth NAPI work of the whole chain runs inside it, when
    // each batch re-enables bottom halves. Wall-clock time is kept beside it.
    const send = async (frame: Buffer, count: number): Promise<{ mpps: number; wallMpps: number; sent: number; got: number }> => {
      const before = sumCounter(sink, 0);
      const start = performance.now();
      const r = withNetns(chain.ns.gen, () => gen.testRun({ data: frame, repeat: count, liveFrames: true }));
      const seconds = (performance.now() - start) / 1000;
      await sleep(20); // let the last batch drain through the chain
      const got = Number(sumCounter(sink, 0) - before);
      return { mpps: (got / count) * (1e3 / r.durationNs), wallMpps: got / seconds / 1e6, sent: count, got };
    };

    const sizes: EndToEndResult['sizes'] = [];
    const perSize = new Map<number, Record<Mode, { mpps: number[]; wallMpps: number[]; sent: number; got: number; count: number }>>();
    for (const size of opts.frameSizes) {
      perSize.set(size, Object.fromEntries(MODES.map((m) => [m, { mpps: [], wallMpps: [], sent: 0, got: 0, count: 0 }])) as never);
    }
    for (let round = 0; round < opts.rounds; round++) {
      for (const size of opts.frameSizes) {
        const frame = template(chain, size);
        const cfg = Buffer.alloc(traffic.map('gen_cfg').valueSize);
        cfg.writeUInt32LE(g0.ifindex, 0);
        cfg.writeUInt32LE(flows, 4);
        cfg.writeUInt32LE(0x64400000, 8);
        cfg.writeUInt32LE(Math.max(1, Math.floor(opts.subscribers / flows)), 12);
        frame.copy(cfg, 16, 0, 64);
        traffic.map('gen_cfg').set(u32.encode(0), cfg);
        for (const mode of MODES) {
          const links: XdpLink[] = modePrograms[mode].map(([p, prog]) => chain.attach(p, prog));
          if (mode === 'nft') nft.enable();
          try {
            const acc = perSize.get(size)![mode];
            if (acc.count === 0) {
              // size the runs to about opts.seconds from a short first run
              const probe = await send(frame, 100_000);
              acc.count = Math.max(100_000, Math.round(probe.mpps * 1e6 * opts.seconds));
            }
            const r = await send(frame, acc.count);
            acc.mpps.push(r.mpps);
            acc.wallMpps.push(r.wallMpps);
            acc.sent += r.sent;
            acc.got += r.got;
            opts.log(`  round ${round + 1}, ${size} B, ${mode.padEnd(8)}: ${r.mpps.toFixed(3)} Mpps (wall clock ${r.wallMpps.toFixed(3)}; ${((100 * r.got) / r.sent).toFixed(1)}% of ${r.sent} delivered)`);
          } finally {
            if (mode === 'nft') nft.disable();
            for (const l of links) l.detach();
          }
        }
      }
    }
    for (const size of opts.frameSizes) {
      const acc = perSize.get(size)!;
      const fig = (m: Mode): RateFigures => ({ mpps: summarize(acc[m].mpps), wallMpps: summarize(acc[m].wallMpps), delivered: acc[m].sent ? acc[m].got / acc[m].sent : 0 });
      const row = { frameBytes: size, kernel: fig('kernel'), nft: fig('nft'), 'xdp-fwd': fig('xdp-fwd'), fecflow: fig('fecflow') };
      sizes.push({
        ...row,
        ratioKernel: row.fecflow.mpps.median / row.kernel.mpps.median,
        ratioNft: row.fecflow.mpps.median / row.nft.mpps.median,
        ratioXdpFwd: row.fecflow.mpps.median / row['xdp-fwd'].mpps.median,
      });
    }
    const fecflowDrops: Record<string, number> = {};
    for (const [name, o] of Object.entries(routers)) {
      DROP_REASONS.forEach((reason, i) => {
        const n = Number(sumCounter(o.map('drop_stats'), i));
        if (n) fecflowDrops[`${name}/${reason}`] = n;
      });
    }
    const nftLoadSeconds = { map: nft.mapLoadSeconds, tables: nft.tablesLoadSeconds };
    return { subscribers: opts.subscribers, isps: ISPS, flows, secondsPerRun: opts.seconds, tableLoadSeconds, nftLoadSeconds, sizes, fecflowDrops };
  } finally {
    nft?.disable();
    chain.cleanup();
    for (const o of objects) o.close();
  }
}
