// Benchmark 4: what an ICMP error costs the data plane, which builds it in the XDP program
// (dataplane/icmp.h) rather than handing the frame to a responder in user space. Measured by
// the single-run method of the per-packet benchmark (one BPF_PROG_TEST_RUN per frame, the
// kernel's duration, median over all frames), beside the XDP_PASS floor measured the same way
// and the forwarding path the same frame would take with a TTL left: so "net" is the program's
// own cost. The replay method does not apply: an error reshapes both ends of the frame.
//
// Cases: an access port answering IPv4 TTL 1 (time exceeded, out of the port it came in on);
// the same for IPv6; an LSR answering label TTL 1 with the RFC 4950 extension, sent on along
// the LSP. The node's bucket is set so large that none is rate-limited during the run.
import { BpfObject } from '../control/bpf/index.js';
import { u32 } from '../control/bpf/codec.js';
import { icmpLimitCodec } from '../control/tables/layout.js';
import { emptyTables, type Tables } from '../control/tables/types.js';
import { ether, ipv4, ipv6, udp } from '../test/helpers/frames.js';
import { median, summarize, type Summary } from './lib/stats.js';
import { loadTables } from './lib/tables.js';

const LO = 1;
const XDP_TX = 3;
const XDP_REDIRECT = 4;
const ROUTER = '02:00:00:00:00:01';
const USER = '02:10:00:00:00:05';

export interface IcmpOptions {
  /** frames per round (each run once) */
  frames: number;
  rounds: number;
  log: (msg: string) => void;
}

export interface IcmpCaseResult {
  id: string;
  title: string;
  /** ns per frame: the error built and sent, the same frame forwarded (TTL left), XDP_PASS */
  error: Summary;
  forward: Summary;
  pass: Summary;
}

export interface IcmpResult {
  frames: number;
  cases: IcmpCaseResult[];
}

function tables(): Tables {
  const t = emptyTables();
  t.txPorts.add(LO);
  t.nexthops.set(1, { ifindex: LO, mtu: 1500, vid: 0, dmac: '02:00:00:00:20:01', smac: ROUTER });
  t.nhGroups.set(1, { nexthops: [1] });
  t.fecUp.set(1, { labels: [1001], tc: 0, nhGroup: 1 });
  t.subV4.set('100.64.0.0/16', { isp: 1, ifindex: LO, outerVid: 0, innerVid: 0 });
  t.subV6.set('2001:db8:1::/48', { isp: 1, ifindex: LO, outerVid: 0, innerVid: 0 });
  t.ilm.set(5000, { action: 'swap', labels: [6000], tc: 0, nhGroup: 1 });
  t.icmpSources = [[{ ifindex: LO, vid: 0 }, { v4: '192.0.2.1', v6: '2001:db8:ff::1' }]];
  t.icmpLimit = { rate: 1_000_000, burst: 1_000_000 };
  return t;
}

interface Case {
  id: string;
  title: string;
  prog: 'xdp_access' | 'xdp_core';
  frame(i: number, ttl: number): Buffer;
  expect: number;
}

const v4 = (i: number, ttl: number) => ipv4({ src: `100.64.${(i >> 8) & 255}.${i & 255}`, dst: '198.51.100.1', ttl, l4: udp(33434 + (i % 100), 33434, Buffer.alloc(32)) });
const CASES: Case[] = [
  { id: 'access-v4', title: 'access, IPv4 time exceeded', prog: 'xdp_access', expect: XDP_TX, frame: (i, ttl) => ether({ dst: ROUTER, src: USER, payload: v4(i, ttl) }) },
  {
    id: 'access-v6',
    title: 'access, IPv6 time exceeded',
    prog: 'xdp_access',
    expect: XDP_TX,
    frame: (i, ttl) => ether({ dst: ROUTER, src: USER, payload: ipv6({ src: `2001:db8:1::${(i & 0xffff).toString(16)}`, dst: '2001:db8:2::1', hopLimit: ttl, l4: udp(33434, 33434, Buffer.alloc(32)) }) }),
  },
  {
    id: 'lsr-v4',
    title: 'LSR, label TTL: RFC 4950, along the LSP',
    prog: 'xdp_core',
    expect: XDP_REDIRECT,
    frame: (i, ttl) => ether({ dst: ROUTER, src: USER, labels: [{ label: 5000, ttl }], payload: v4(i, 64) }),
  },
];

export function runIcmp(objectPath: string, progDir: string, opts: IcmpOptions): IcmpResult {
  const dp = BpfObject.open(objectPath);
  const floors = BpfObject.open(`${progDir}/floor.bpf.o`);
  try {
    loadTables(dp, tables());
    const cases: IcmpCaseResult[] = [];
    for (const c of CASES) {
      const prog = dp.program(c.prog);
      const errors = Array.from({ length: opts.frames }, (_, i) => c.frame(i, 1));
      const forwards = Array.from({ length: opts.frames }, (_, i) => c.frame(i, 64));
      // every frame must take the path measured
      for (const f of errors.slice(0, 8)) {
        const r = prog.testRun({ data: f, ingressIfindex: LO, dataOutSize: 512 });
        if (r.retval !== c.expect) throw new Error(`${c.id}: an error frame returned XDP action ${r.retval}, not ${c.expect}`);
      }
      const fwd = prog.testRun({ data: forwards[0]!, ingressIfindex: LO, dataOutSize: 512 });
      if (fwd.retval !== XDP_REDIRECT) throw new Error(`${c.id}: a forwarded frame returned XDP action ${fwd.retval}`);
      const pass = floors.program('xdp_floor_pass');
      const acc = { error: [] as number[], forward: [] as number[], pass: [] as number[] };
      for (let r = 0; r < opts.rounds; r++) {
        // a full bucket every round, so that no error is rate-limited
        dp.map('icmp_limit').set(u32.encode(0), icmpLimitCodec.encode({ rate: 1_000_000n, burst: 1_000_000n, credit: 1_000_000n * 1_000_000_000n, lastNs: 0n }));
        const per = { error: [] as number[], forward: [] as number[], pass: [] as number[] };
        for (let i = 0; i < opts.frames; i++) {
          per.error.push(prog.testRun({ data: errors[i]!, ingressIfindex: LO, dataOutSize: 512 }).durationNs);
          per.forward.push(prog.testRun({ data: forwards[i]!, ingressIfindex: LO, dataOutSize: 512 }).durationNs);
          per.pass.push(pass.testRun({ data: forwards[i]!, ingressIfindex: LO, dataOutSize: 512 }).durationNs);
        }
        acc.error.push(median(per.error));
        acc.forward.push(median(per.forward));
        acc.pass.push(median(per.pass));
      }
      const res = { id: c.id, title: c.title, error: summarize(acc.error), forward: summarize(acc.forward), pass: summarize(acc.pass) };
      opts.log(`  ${c.title.padEnd(40)} error ${res.error.median.toFixed(0)} ns, forwarded ${res.forward.median.toFixed(0)} ns, XDP_PASS ${res.pass.median.toFixed(0)} ns (single runs)`);
      cases.push(res);
    }
    return { frames: opts.frames, cases };
  } finally {
    dp.close();
    floors.close();
  }
}
