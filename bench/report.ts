// The markdown report of a bench run, and the method descriptions stored with every result.
import type { BenchResult } from './run.js';
import type { PathResult, PerPacketResult } from './perpacket.js';
import type { EndToEndResult } from './e2e.js';
import type { ControlResult } from './control.js';
import type { MeterResult } from './meter.js';
import type { SessionBenchResult } from './sessions.js';
import type { IcmpResult } from './icmp.js';
import { fmt, type Summary } from './lib/stats.js';

export const TARGETS = {
  meterReadMs: 1000,
  nsPerPacketAt1M: 67,
  /** fecflow against the like-for-like kernel baseline (nftables map + fwmark tables) */
  e2eRatioVsBaseline: 3,
  /** fecflow against plain kernel forwarding: never slower */
  e2eRatioVsKernel: 1,
  coldApplySeconds: 5,
  sessionOpensPerSecond: 1000,
  coldStartRssMiB: 1024,
  restartSeconds: 2,
  moveMedianMs: 1,
  editP99Ms: 5,
  importSeconds: 10,
  scrapeMs: 100,
};

export const METHODS = {
  perPacket:
    'Kernel-timed BPF_PROG_TEST_RUN (durationNs). Headline "replay": bench/progs/replay.bpf.c runs before every repetition, ' +
    'restores the frame to its original length (bpf_xdp_adjust_head), writes the next flow\'s template over it and tail-calls ' +
    'the program under test; one test run with repeat = flows x passes walks all flows in turn with warm code. ns/packet = the ' +
    'kernel\'s average per repetition, so it includes the test-run loop and the replay harness; the floors (an empty XDP_PASS ' +
    'program and a one-lookup MAC-rewrite + devmap redirect forwarder) go through the same harness in the same rounds, and ' +
    '"net" = path - XDP_PASS floor is the cost of the program itself. Cross-check "single": every flow\'s frame run once per ' +
    'syscall (repeat = 1), median of the kernel durations over all flows; each run starts cold after a syscall and carries the ' +
    'timer overhead, so only the difference to the floor measured the same way is meaningful. Each path gets a freshly loaded ' +
    'object whose scaled table holds N entries (encodeTables + setMany, LPM tries entry by entry); flows draw random entries; ' +
    'every flow is checked to be forwarded (XDP_REDIRECT) and no drop counter may move while measuring. Median over rounds, ' +
    'with min and max.',
  endToEnd:
    'Namespaces gen -> headend -> LSR -> tailend -> ISP host on veths. Generator: bench/progs/traffic.bpf.c xdp_gen as a ' +
    'live-frames test run (rewrites the 64-byte header template and the subscriber source address each frame, redirects into ' +
    'the headend\'s access veth); sink: xdp_sink on the ISP host counting per CPU and dropping. Modes on the same chain: ' +
    'kernel (ip_forward, static routes and neighbours; only an XDP_PASS program on the headend\'s access port, which veth ' +
    'needs to accept redirected frames), nft (the like-for-like baseline: the same kernel forwarding, plus on the headend an ' +
    'nftables map of every subscriber source address to its ISP\'s mark in prerouting, one ip rule fwmark per ISP selecting the ' +
    'ISP\'s routing table, and the main table\'s route to the ISP removed so that only classified frames arrive), xdp-fwd (xdp_floor_fwd on each router: the ceiling of any XDP forwarder), fecflow ' +
    '(xdp_access, xdp_core, xdp_core with tables loaded directly). Mpps = frames counted at the sink / (test-run duration x ' +
    'repeat): the kernel times the generator\'s loop, inside which every batch\'s veth NAPI work of the whole chain runs on the ' +
    'same CPU, leaving out time the generator was scheduled out; wall-clock Mpps is kept beside it. Modes interleaved per ' +
    'round; median over rounds with min and max.',
  sessions:
    'A headend\'s fecflow serve in a fresh namespace with N session-admitted subscribers and Debian\'s FreeRADIUS (threaded, -f) in the ' +
    'same namespace accepting every User-Name (PAP, Message-Authenticator required). C clients POST /v1/sessions over the Unix socket ' +
    '(keep-alive), one per subscriber: Access-Request/Accept, one registry transaction (session, Start in ledger and outbox, audit) ' +
    'and the classifier entry written, per open. opens/s = sessions opened / wall time of all opens. Then the outbox drains (every Start ' +
    'answered), and all sessions are closed the same way.',
  icmp:
    'BPF_PROG_TEST_RUN once per frame (repeat = 1), the kernel\'s duration, median over the frames of a round, median over ' +
    'rounds with min and max: a frame with TTL (or label TTL) 1 that the program turns into an ICMP error (access: time ' +
    'exceeded out of the port, XDP_TX; LSR: with the RFC 4950 label stack, redirected along the LSP), the same frame with a TTL ' +
    'left (forwarded), and the XDP_PASS floor program; the node\'s bucket is refilled each round so nothing is rate-limited.',
  controlPlane:
    'Cold apply: fecflow serve in a fresh namespace with a generated config of N subscriber prefixes, time from start to ' +
    'ready (/readyz) and to the last subscriber visible in sub_v4_exact, with the daemon\'s peak RSS and the kernel\'s memlock of ' +
    'every map (bpftool map show). Move (at the largest size that ran): POST /v1/subscribers/move over one kept-alive ' +
    'connection, then poll the pinned sub_v4_exact map until the entry shows the new ISP; median and p99 over the moves; assign and remove ' +
    'the same way with new prefixes. Restart: SIGTERM, then spawn → /readyz with pins and registry kept. Cold start: the pins removed ' +
    '(detach --offline), spawn → /readyz with everything written from the registry. Import: fecflow subscriber import of a CSV of N ' +
    'prefixes into a fresh daemon with an empty registry, wall time of the CLI, then the last row checked in sub_v4_exact. Scrape: GET /metrics with the given ISPs and labels. CLI: node bin/fecflow.js ' +
    '--version, median wall time. Baseline: ip -batch of N routes into a fresh namespace.',
};

const n = (x: number) => x.toLocaleString('en-US');
const f1 = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : '–');
const f2 = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : '–');
const table = (head: string[], rows: string[][]) =>
  [`| ${head.join(' | ')} |`, `|${head.map(() => ' --- ').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
const failed = (x: unknown): x is { error: string } => !!x && typeof x === 'object' && 'error' in x;

function perPacket(p: PerPacketResult): string {
  const out: string[] = ['## Per-packet cost (ns/packet, BPF_PROG_TEST_RUN, replay method)', ''];
  const rows = p.results.map((r: PathResult) => {
    const net = r.replay.path.median - r.replay.pass.median;
    const singleNet = r.single.path.median - r.single.pass.median;
    return [
      r.title,
      n(r.entries),
      fmt(r.replay.path),
      f1(net),
      f2(r.replay.path.median / r.replay.pass.median) + '×',
      f2(r.replay.path.median / r.replay.fwd.median) + '×',
      Number.isFinite(singleNet) ? `${f1(r.single.path.median)} (net ${f1(singleNet)})` : '–',
    ];
  });
  out.push(table(['path', 'entries', 'ns/packet median (min–max)', 'net of XDP_PASS floor', '× XDP_PASS floor', '× MAC+redirect floor', 'single-run median (net)'], rows));
  const all = (k: 'pass' | 'fwd'): Summary => {
    const xs = p.results.map((r) => r.replay[k].median).sort((a, b) => a - b);
    return { median: xs[Math.floor(xs.length / 2)] ?? NaN, min: xs[0] ?? NaN, max: xs[xs.length - 1] ?? NaN, runs: xs.length };
  };
  out.push('', `Floors through the same harness (median of the per-path medians, range): XDP_PASS ${fmt(all('pass'))} ns; MAC rewrite + redirect ${fmt(all('fwd'))} ns.`);
  const big = Math.max(...p.results.map((r) => r.scale));
  const atBig = p.results.filter((r) => r.scale === big);
  if (atBig.length) {
    const miss = atBig.filter((r) => r.replay.path.median > TARGETS.nsPerPacketAt1M);
    const missNet = atBig.filter((r) => r.replay.path.median - r.replay.pass.median > TARGETS.nsPerPacketAt1M);
    out.push(
      '',
      `Target ≤ ${TARGETS.nsPerPacketAt1M} ns/packet at ${n(big)} entries: ` +
        (miss.length === 0 ? 'met by every path.' : `missed by ${miss.map((r) => r.title).join(', ')} as measured` + (missNet.length < miss.length ? `; net of the XDP_PASS floor, missed by ${missNet.map((r) => r.title).join(', ') || 'none'}.` : '.')),
    );
  }
  if (p.lookups.length) {
    out.push('', '### One lookup alone (IPv4 /32 entries, replay method, ns/packet)', '');
    out.push(
      table(
        ['entries', 'LPM trie', 'hash (prealloc)', 'hash (no prealloc)', 'XDP_PASS floor', 'LPM net', 'hash net', 'no-prealloc net'],
        p.lookups.map((l) => [n(l.entries), fmt(l.lpm), fmt(l.hash), fmt(l.hashNoPrealloc), fmt(l.pass), f1(l.lpm.median - l.pass.median), f1(l.hash.median - l.pass.median), f1(l.hashNoPrealloc.median - l.pass.median)]),
      ),
    );
  }
  out.push('', '### Programs', '');
  out.push(table(['program', 'verified insns', 'xlated insns', 'JIT bytes'], p.programs.map((x) => [x.program, n(x.verifiedInsns), n(x.xlatedInsns), n(x.jitedBytes)])));
  out.push('', '### Map lookups per packet', '');
  const seen = new Set<string>();
  const lrows: string[][] = [];
  for (const r of p.results) {
    if (seen.has(r.id)) continue;
    seen.add(r.id);
    lrows.push([r.title, String(r.lookups.length), r.lookups.join(', ')]);
  }
  out.push(table(['path', 'lookups', 'maps'], lrows));
  return out.join('\n');
}

function endToEnd(e: EndToEndResult): string {
  const out = [`## End to end: headend → LSR → tailend on veths (Mpps, ${n(e.subscribers)} subscribers, ${n(e.isps)} ISPs, ${n(e.flows)} flows)`, ''];
  out.push(
    table(
      ['frame', 'kernel IPv4 forwarding', 'nftables map + fwmark tables', 'minimal XDP forwarder', 'fecflow', 'fecflow / nftables', 'fecflow / kernel', 'fecflow / XDP fwd', 'fecflow wall-clock Mpps'],
      e.sizes.map((s) => [
        `${s.frameBytes} B`,
        fmt(s.kernel.mpps, 3),
        fmt(s.nft.mpps, 3),
        fmt(s['xdp-fwd'].mpps, 3),
        fmt(s.fecflow.mpps, 3),
        f2(s.ratioNft) + '×',
        f2(s.ratioKernel) + '×',
        f2(s.ratioXdpFwd) + '×',
        fmt(s.fecflow.wallMpps, 3),
      ]),
    ),
  );
  const target = (what: string, ratio: number, key: 'ratioNft' | 'ratioKernel') => {
    const miss = e.sizes.filter((s) => s[key] < ratio);
    return `Target fecflow ≥ ${ratio}× ${what}: ${miss.length ? `missed at ${miss.map((s) => `${s.frameBytes} B`).join(', ')}` : 'met'}.`;
  };
  out.push('', target('the nftables baseline', TARGETS.e2eRatioVsBaseline, 'ratioNft'), target('plain kernel forwarding', TARGETS.e2eRatioVsKernel, 'ratioKernel'));
  out.push('', `The nftables baseline's map of ${n(e.subscribers)} subscribers loaded in ${f1(e.nftLoadSeconds.map)} s (nft -f), its ${n(e.isps)} routing tables in ${f1(e.nftLoadSeconds.tables)} s.`);
  const undelivered = e.sizes.flatMap((s) => (['kernel', 'nft', 'xdp-fwd', 'fecflow'] as const).filter((m) => s[m].delivered < 0.99).map((m) => `${m} ${s.frameBytes} B ${(100 * s[m].delivered).toFixed(1)}%`));
  if (undelivered.length) out.push('', `Delivered below 99% of sent: ${undelivered.join(', ')}.`);
  if (Object.keys(e.fecflowDrops).length) out.push('', `fecflow drops during the runs: ${JSON.stringify(e.fecflowDrops)}.`);
  return out.join('\n');
}

function control(c: ControlResult): string {
  const out = ['## Control plane', ''];
  const rows: string[][] = [];
  const row = (what: string, value: string, target = '', note = '') => rows.push([what, value, target, note]);
  for (const a of c.coldApply ?? []) {
    const t = a.subscribers >= 1_000_000 ? `≤ ${TARGETS.coldApplySeconds} s ${a.seconds.median <= TARGETS.coldApplySeconds ? 'met' : 'missed'}` : '';
    row(`first start (imports the file's subscribers), ${n(a.subscribers)} subscriber prefixes`, `${fmt(a.seconds, 2)} s`, t, `spawn → /readyz; ${n(a.isps)} ISPs, ${n(a.labels)} labels; ${a.seconds.runs} run(s); daemon peak RSS ${fmt(a.peakRssMiB, 0)} MiB; maps ${f1(a.mapMemlockMiB)} MiB memlock`);
  }
  if (c.coldApplySkipped?.length) row(`cold apply, ${c.coldApplySkipped.map(n).join(', ')} subscribers`, 'not run', `≤ ${TARGETS.coldApplySeconds} s missed`, 'the projected time overran the bench budget');
  const edit = (what: string, l: { medianMs: number; p99Ms: number; subscribers: number }, ops: number) =>
    row(
      `${what} one subscriber (API call → map entry), ${n(ops)} times`,
      `median ${f2(l.medianMs)} ms, p99 ${f2(l.p99Ms)} ms`,
      `≤ ${TARGETS.moveMedianMs} ms median, ≤ ${TARGETS.editP99Ms} ms p99: ${l.medianMs <= TARGETS.moveMedianMs && l.p99Ms <= TARGETS.editP99Ms ? 'met' : 'missed'}`,
      `at ${n(l.subscribers)} subscribers; committed to the registry first`,
    );
  if (c.move) edit('move', c.move, c.move.moves);
  if (c.assign) edit('assign', c.assign, c.assign.ops);
  if (c.remove) edit('remove', c.remove, c.remove.ops);
  if (c.restart) {
    row(`restart, nothing changed, ${n(c.restart.subscribers)} subscribers`, `${f2(c.restart.seconds)} s`, `≤ ${TARGETS.restartSeconds} s ${c.restart.seconds <= TARGETS.restartSeconds ? 'met' : 'missed'}`, `spawn → /readyz with pins and registry in place; peak RSS ${f1(c.restart.peakRssMiB)} MiB`);
  }
  if (c.coldStart) {
    const ok = c.coldStart.seconds <= TARGETS.coldApplySeconds && c.coldStart.peakRssMiB <= TARGETS.coldStartRssMiB;
    row(`cold start from the registry, ${n(c.coldStart.subscribers)} subscribers`, `${f2(c.coldStart.seconds)} s, peak RSS ${f1(c.coldStart.peakRssMiB)} MiB`, `≤ ${TARGETS.coldApplySeconds} s and ≤ ${TARGETS.coldStartRssMiB} MiB: ${ok ? 'met' : 'missed'}`, 'no pins: every entry written from the registry');
  }
  if (c.importCsv) row(`import of ${n(c.importCsv.rows)} CSV rows`, `${f2(c.importCsv.seconds)} s`, `≤ ${TARGETS.importSeconds} s ${c.importCsv.seconds <= TARGETS.importSeconds ? 'met' : 'missed'}`, `fecflow subscriber import into an empty registry, to the last entry in the map; ${n(c.importCsv.csvBytes)} bytes of CSV`);
  if (c.scrape) row(`/metrics scrape, ${n(c.scrape.isps)} ISPs, ${n(c.scrape.labels)} labels`, `${fmt(c.scrape.ms, 1)} ms`, `≤ ${TARGETS.scrapeMs} ms ${c.scrape.ms.median <= TARGETS.scrapeMs ? 'met' : 'missed'}`, `${n(c.scrape.bytes)} bytes, ${n(c.scrape.series)} series`);
  if (c.cli) row('CLI start-up (fecflow --version)', `${fmt(c.cli.ms, 0)} ms`);
  if (c.kernelRoutes) row(`baseline: ip -batch of ${n(c.kernelRoutes.routes)} routes`, `${fmt(c.kernelRoutes.seconds, 2)} s`);
  out.push(table(['what', 'median (min–max)', 'target', 'note'], rows));
  for (const [k, v] of Object.entries(c.errors ?? {})) out.push('', `${k}: not measured (${v})`);
  return out.join('\n');
}

function meter(m: MeterResult): string {
  return [
    '## Per-subscriber usage: reading every subscriber\'s counters',
    '',
    `| figure | ${m.subscribers.toLocaleString('en')} subscribers | target |`,
    '| --- | --- | --- |',
    `| read sub_stats and fold every counter, all moved (ms) | ${fmt(m.readAll, 0)} | ≤ ${TARGETS.meterReadMs} |`,
    `| write the changed rows to the registry (ms) | ${fmt(m.writeAll, 0)} | |`,
    `| CPU time of that whole reading, user + system (ms) | ${fmt(m.cpuAll, 0)} | |`,
    `| a reading when nothing moved (ms) | ${fmt(m.readIdle, 0)} | |`,
    `| current() of one subscriber (µs) | ${fmt(m.current, 1)} | |`,
    `| handing out and recording every slot (first start, s) | ${m.allocateSeconds.toFixed(1)} | |`,
  ].join('\n');
}

function icmp(r: IcmpResult): string {
  const out = [`## ICMP errors built in XDP (ns per frame, single runs, median of ${n(r.frames)} frames per round)`, ''];
  out.push(
    table(
      ['case', 'error built and sent', 'same frame forwarded', 'XDP_PASS floor', 'error net of the floor'],
      r.cases.map((c) => [c.title, fmt(c.error, 0), fmt(c.forward, 0), fmt(c.pass, 0), f1(c.error.median - c.pass.median)]),
    ),
  );
  return out.join('\n');
}

export function report(r: BenchResult): string {
  const m = r.machine;
  const out = [
    `# fecflow bench — ${r.date.slice(0, 10)}${r.quick ? ' (quick configuration)' : ''}`,
    '',
    `${m.cpuModel}, ${m.cores} CPUs, ${m.memoryGiB} GiB, ${m.os}, kernel ${m.kernel}, Node ${m.node}, commit ${m.commit}${m.dirty ? ' (modified)' : ''}; load average at start ${m.loadAverage.join(' ')}; ${r.seconds} s in all.`,
  ];
  if (r.perPacket) out.push('', failed(r.perPacket) ? `## Per-packet cost\n\nfailed: ${r.perPacket.error}` : perPacket(r.perPacket));
  if (r.endToEnd) out.push('', failed(r.endToEnd) ? `## End to end\n\nfailed: ${r.endToEnd.error}` : endToEnd(r.endToEnd));
  if (r.controlPlane) out.push('', failed(r.controlPlane) ? `## Control plane\n\nfailed: ${r.controlPlane.error}` : control(r.controlPlane));
  if (r.meter) out.push('', failed(r.meter) ? `## Per-subscriber usage\n\nfailed: ${r.meter.error}` : meter(r.meter));
  if (r.sessions) out.push('', failed(r.sessions) ? `## Sessions\n\nfailed: ${r.sessions.error}` : sessions(r.sessions));
  if (r.icmp) out.push('', failed(r.icmp) ? `## ICMP errors\n\nfailed: ${r.icmp.error}` : icmp(r.icmp));
  out.push('', 'Method: see bench/README.md and `methods` in the JSON result.');
  return out.join('\n');
}

function sessions(s: SessionBenchResult): string {
  const target = TARGETS.sessionOpensPerSecond;
  return [
    '## Sessions',
    '',
    '| what | value | target | note |',
    '| --- | --- | --- | --- |',
    `| session opens through the API, FreeRADIUS accepting | ${n(s.opens.perSecond)} /s | ≥ ${n(target)} /s ${s.opens.perSecond >= target ? 'met' : 'missed'} | ${n(s.subscribers)} sessions by ${s.concurrency} clients in ${s.opens.seconds} s; ${s.opens.failed} failed; CPU per open: daemon ${s.opens.daemonCpuMsPerOpen} ms (${n(Math.round(1000 / s.opens.daemonCpuMsPerOpen))} /s per core), FreeRADIUS ${s.opens.radiusCpuMsPerOpen} ms |`,
    `| every Start answered | ${s.startsAnsweredSeconds} s | | from the first open |`,
    `| session closes (Stop with final counters) | ${n(s.closes.perSecond)} /s | | ${s.closes.failed} failed |`,
  ].join('\n');
}
