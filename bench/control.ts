// Benchmark 3: the control plane at scale. A headend's `fecflow serve` in a fresh namespace
// (two veth pairs for its access and core ports), its config generated with N subscriber
// prefixes, ISPs and labels; then:
//   cold apply   spawn → /readyz 200 (everything reconciled), the daemon's peak RSS, and the
//                kernel's memlock of every pinned map (bpftool map show)
//   move         POST /v1/subscribers/move, then poll the pinned sub_v4_exact map until the entry
//                carries the new ISP; call → visible latency
//   registry     at the largest size: assign and remove latency (call → map entry), restart
//                with nothing changed, cold start from the registry alone (pins removed: every
//                entry written again), and a CSV import of N rows into an empty registry
//   scrape       GET /metrics
//   CLI          node bin/fecflow.js --version
// and as the baseline, the kernel's own bulk route install: `ip -batch` of N routes.
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { BpfMap } from '../control/bpf/index.js';
import { repoRoot } from '../control/bpf/native.js';
import { lpmV4KeyCodec, subClassCodec } from '../control/tables/layout.js';
import { Lab, uniqueName, sh } from '../test/helpers/netns.js';
import { quantile, sortedCopy, summarize, type Summary } from './lib/stats.js';
import { subV4 } from './lib/tables.js';

export interface ControlOptions {
  /** cold applies at each size in turn while the time budget lasts (a size whose projected
   *  time would overrun it is skipped); scrape and moves use the first size's daemon */
  applySizes: number[];
  applyBudgetSeconds: number;
  moves: number;
  /** moves stop after this many seconds even when fewer than `moves` were made */
  moveBudgetSeconds: number;
  isps: number;
  labels: number;
  scrapes: number;
  cliRuns: number;
  kernelRoutes: number;
  /** cold applies per size while one takes under 20 s (each a fresh daemon, namespace and
   *  pins), and kernel route installs */
  rounds: number;
  log: (msg: string) => void;
}

export interface ControlResult {
  coldApply?: Array<{
    subscribers: number;
    isps: number;
    labels: number;
    configBytes: number;
    /** spawn of `fecflow serve` → /readyz 200 (config parsed, validated, compiled, every entry written) */
    seconds: Summary;
    peakRssMiB: Summary;
    mapMemlockMiB: number;
    mapMemlock: Record<string, number>;
    mapMemlockNote?: string;
  }>;
  /** sizes not tried because the projected time overran the budget */
  coldApplySkipped?: number[];
  move?: { subscribers: number; moves: number; medianMs: number; p99Ms: number; minMs: number; maxMs: number };
  assign?: Latency;
  remove?: Latency;
  /** stop → start with the pins and the registry in place, spawn → /readyz */
  restart?: { subscribers: number; seconds: number; peakRssMiB: number };
  /** start with the registry holding N subscribers and no pins: spawn → /readyz */
  coldStart?: { subscribers: number; seconds: number; peakRssMiB: number };
  /** `fecflow subscriber import` of a CSV of N rows into an empty registry, to the last entry in the map */
  importCsv?: { rows: number; seconds: number; csvBytes: number };
  scrape?: { isps: number; labels: number; ms: Summary; bytes: number; series: number };
  cli?: { ms: Summary };
  kernelRoutes?: { routes: number; seconds: Summary };
  errors?: Record<string, string>;
}

const MIB = 2 ** 20;

export interface Latency {
  subscribers: number;
  ops: number;
  medianMs: number;
  p99Ms: number;
}

function config(node: string, acc: string, core: string, subscribers: number, o: ControlOptions): string {
  const c = {
    node,
    interfaces: [
      { name: 'acc', device: acc, role: 'access' },
      { name: 'core', device: core, role: 'core', neighbours: { lsr: '02:00:00:00:00:99' } },
    ],
    isps: Array.from({ length: o.isps }, (_, i) => ({ id: i + 1, name: `isp${i + 1}`, upstream: { labels: [10_000 + i], nexthop: { interface: 'core', neighbour: 'lsr' } } })),
    subscribers: Array.from({ length: subscribers }, (_, i) => ({ name: `s${i}`, isp: `isp${1 + (i % o.isps)}`, match: { prefix: `${subV4(i)}/32` } })),
    ilm: Array.from({ length: o.labels }, (_, i) => ({ label: 100_000 + i, action: 'pop-forward', nexthop: { interface: 'core', neighbour: 'lsr' } })),
  };
  // JSON: the daemon reads it like YAML, and a million subscribers parse in a second.
  return JSON.stringify(c);
}

interface Daemon {
  proc: ChildProcess;
  socket: string;
  logs: () => string;
}

export function http(socket: string, method: string, path: string, body?: unknown, token?: string, agent: Agent | false = false): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = {};
    if (token) headers.authorization = `Bearer ${token}`;
    const payload = body === undefined ? undefined : JSON.stringify(body);
    if (payload) headers['content-type'] = 'application/json';
    const req = request({ socketPath: socket, path, method, headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(payload);
  });
}

function peakRss(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? (Number(m[1]) * 1024) / MIB : NaN;
}

/** memlock bytes of every map pinned under dir, by map name (bpftool map show). */
function mapMemlock(dir: string): Record<string, number> {
  const out: Record<string, number> = {};
  const ids = new Map<number, string>();
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    try {
      const m = BpfMap.fromPin(p);
      try {
        ids.set(m.info().id, name);
      } finally {
        m.close();
      }
    } catch {
      // not a map (a link or a program pin)
    }
  }
  const all = JSON.parse(execFileSync('bpftool', ['-j', 'map', 'show'], { encoding: 'utf8', maxBuffer: 64 * MIB })) as Array<{ id: number; bytes_memlock?: number }>;
  for (const m of all) {
    const name = ids.get(m.id);
    if (name !== undefined && m.bytes_memlock !== undefined) out[name] = m.bytes_memlock;
  }
  return out;
}

/** Every directory under root that holds pinned maps (the daemon pins under <root>/<node>/…). */
function pinDirs(root: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    let files = false;
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(d, e.name));
      else files = true;
    }
    if (files) out.push(d);
  };
  if (existsSync(root)) walk(root);
  return out;
}

export class Rig {
  readonly lab = new Lab();
  readonly id = uniqueName('b');
  readonly dir = mkdtempSync(join(tmpdir(), 'fecflow-bench-'));
  readonly pinRoot = `/sys/fs/bpf/fecflow-bench-${this.id}`;
  readonly node = `bench${this.id}`;
  ns = '';
  daemon: Daemon | undefined;

  setup(cfg: (acc: string, core: string) => string): number {
    this.ns = this.lab.netns('ffbc', { ipv6: false });
    const [acc] = this.lab.veth(this.ns, this.ns, {}, 'ffbc');
    const [core] = this.lab.veth(this.ns, this.ns, {}, 'ffbc');
    const text = cfg(acc, core);
    writeFileSync(join(this.dir, 'router.json'), text);
    return text.length;
  }

  async start(timeoutMs: number): Promise<{ readyMs: number }> {
    const socket = join(this.dir, 'api.sock');
    const root = repoRoot();
    const t0 = performance.now();
    const proc = spawn(
      'nsenter',
      [`--net=/run/netns/${this.ns}`, process.execPath, join(root, 'bin', 'fecflow.js'), 'serve', '-c', join(this.dir, 'router.json'), '--pin-root', this.pinRoot, '--state-dir', join(this.dir, 'state'), '--listen', `unix:${socket}`, '--no-watch', '--log-level', 'warn'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let logs = '';
    proc.stdout!.on('data', (c) => (logs = (logs + c).slice(-20000)));
    proc.stderr!.on('data', (c) => (logs = (logs + c).slice(-20000)));
    this.daemon = { proc, socket, logs: () => logs };
    for (;;) {
      if (proc.exitCode !== null) throw new Error(`the daemon exited with ${proc.exitCode}: ${logs.slice(-2000)}`);
      const r = await http(socket, 'GET', '/readyz').catch(() => undefined);
      if (r?.status === 200) return { readyMs: performance.now() - t0 };
      if (performance.now() - t0 > timeoutMs) throw new Error(`the daemon was not ready after ${timeoutMs / 1000} s: ${logs.slice(-2000)}`);
      await sleep(20);
    }
  }

  token(): string {
    return readFileSync(join(this.dir, 'state', 'token'), 'utf8').trim();
  }

  async stop(): Promise<void> {
    const p = this.daemon?.proc;
    this.daemon = undefined;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const done = new Promise((r) => p.once('exit', r));
    p.kill('SIGTERM');
    const killed = sleep(15_000).then(() => p.kill('SIGKILL'));
    await Promise.race([done, killed]);
  }

  async cleanup(): Promise<void> {
    await this.stop().catch(() => undefined);
    try {
      rmSync(this.pinRoot, { recursive: true, force: true });
    } catch {
      // nothing pinned
    }
    this.lab.cleanup();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function subV4Key(i: number): Buffer {
  return lpmV4KeyCodec.encode({ prefixlen: 32, addr: subV4(i) });
}

async function coldApplyMoveScrape(o: ControlOptions, res: ControlResult): Promise<void> {
  const began = performance.now();
  res.coldApply = [];
  let last: { size: number; seconds: number } | undefined;
  for (const [si, size] of o.applySizes.entries()) {
    const left = o.applyBudgetSeconds - (performance.now() - began) / 1000;
    if (last && (last.seconds * size) / last.size > left) {
      res.coldApplySkipped = o.applySizes.slice(si);
      o.log(`  cold apply of ${size} skipped: ${last.size} took ${last.seconds.toFixed(1)} s, ${left.toFixed(0)} s of the budget left`);
      break;
    }
    const seconds: number[] = [];
    const rss: number[] = [];
    let entry: NonNullable<ControlResult['coldApply']>[number] | undefined;
    for (let round = 0; round < o.rounds; round++) {
      const rig = new Rig();
      try {
        const bytes = rig.setup((acc, core) => config(rig.node, acc, core, size, o));
        const { readyMs } = await rig.start(Math.max(60, left) * 1000);
        // Ready means reconciled; the last subscriber's entry must be in the map.
        const dir = pinDirs(rig.pinRoot).find((d) => existsSync(join(d, 'sub_v4_exact')));
        if (!dir) throw new Error(`no sub_v4_exact pinned under ${rig.pinRoot}`);
        const sub = BpfMap.fromPin(join(dir, 'sub_v4_exact'));
        try {
          if (!sub.get(subV4Key(size - 1))) throw new Error('ready, but the last subscriber is not in sub_v4_exact');
        } finally {
          sub.close();
        }
        seconds.push(readyMs / 1000);
        rss.push(peakRss(rig.daemon!.proc.pid!));
        o.log(`  cold apply: ${size} subscribers ready in ${(readyMs / 1000).toFixed(2)} s, peak RSS ${rss.at(-1)!.toFixed(0)} MiB`);
        if (round === 0) {
          const mem = mapMemlock(dir);
          entry = {
            subscribers: size,
            isps: o.isps,
            labels: o.labels,
            configBytes: bytes,
            seconds: summarize(seconds),
            peakRssMiB: summarize(rss),
            mapMemlockMiB: Object.values(mem).reduce((a, b) => a + b, 0) / MIB,
            mapMemlock: mem,
            mapMemlockNote: 'preallocated hash maps count at full size',
          };
          res.coldApply.push(entry);
          if (si === 0) await scrape(rig, o, res);
          // Moves and the registry's figures at the largest size (the last one, once the
          // budget lets it run).
          if (si === o.applySizes.length - 1) {
            await moves(rig, dir, size, o, res);
            await assignRemove(rig, dir, size, o, res);
            await restarts(rig, size, o, res);
          }
        }
        if (readyMs > 20_000) break;
      } finally {
        await rig.cleanup();
      }
    }
    if (entry) {
      entry.seconds = summarize(seconds);
      entry.peakRssMiB = summarize(rss);
      last = { size, seconds: entry.seconds.median };
    }
  }
}

async function scrape(rig: Rig, o: ControlOptions, res: ControlResult): Promise<void> {
  const ms: number[] = [];
  let bytes = 0;
  let series = 0;
  for (let i = 0; i < o.scrapes; i++) {
    const t0 = performance.now();
    const r = await http(rig.daemon!.socket, 'GET', '/metrics');
    ms.push(performance.now() - t0);
    if (r.status !== 200) throw new Error(`/metrics answered ${r.status}`);
    bytes = r.text.length;
    series = r.text.split('\n').filter((l) => l && !l.startsWith('#')).length;
  }
  res.scrape = { isps: o.isps, labels: o.labels, ms: summarize(ms), bytes, series };
  o.log(`  /metrics: ${res.scrape.ms.median.toFixed(1)} ms for ${series} series`);
}

async function moves(rig: Rig, dir: string, subscribers: number, o: ControlOptions, res: ControlResult): Promise<void> {
  const token = rig.token();
  const sub = BpfMap.fromPin(join(dir, 'sub_v4_exact'));
  const lat: number[] = [];
  // One connection kept open, as a provisioning system or portal holding the API would.
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const start = performance.now();
    for (let m = 0; m < o.moves && performance.now() - start < o.moveBudgetSeconds * 1000; m++) {
      const i = Math.floor((m * 7919) % subscribers);
      const to = 1 + ((i + 1) % o.isps); // the next ISP after the one the config gave it
      const key = subV4Key(i);
      const t0 = performance.now();
      const r = await http(rig.daemon!.socket, 'POST', '/v1/subscribers/move', { subscriber: { prefix: `${subV4(i)}/32`, isp: `isp${to}` } }, token, agent);
      if (r.status !== 200) throw new Error(`move answered ${r.status}: ${r.text.slice(0, 500)}`);
      for (let spin = 0; ; spin++) {
        const v = sub.get(key);
        if (v && subClassCodec.decode(v).isp === to) break;
        if (spin > 100_000) throw new Error(`subscriber ${i} never showed ISP ${to}`);
        await new Promise((r2) => setImmediate(r2));
      }
      lat.push(performance.now() - t0);
    }
  } finally {
    agent.destroy();
    sub.close();
  }
  const s = sortedCopy(lat);
  res.move = { subscribers, moves: lat.length, medianMs: quantile(s, 0.5), p99Ms: quantile(s, 0.99), minMs: s[0] ?? NaN, maxMs: s[s.length - 1] ?? NaN };
  o.log(`  moves: ${lat.length}, median ${res.move.medianMs.toFixed(2)} ms, p99 ${res.move.p99Ms.toFixed(2)} ms`);
}

/** Waits until the pinned map's entry for key satisfies ok (the API answered; the entry is
 * what the data plane sees). */
async function untilEntry(sub: BpfMap, key: Buffer, ok: (v: Buffer | undefined) => boolean, what: string): Promise<void> {
  for (let spin = 0; !ok(sub.get(key)); spin++) {
    if (spin > 100_000) throw new Error(`${what} never showed in the map`);
    await new Promise((r2) => setImmediate(r2));
  }
}

async function assignRemove(rig: Rig, dir: string, subscribers: number, o: ControlOptions, res: ControlResult): Promise<void> {
  const token = rig.token();
  const sub = BpfMap.fromPin(join(dir, 'sub_v4_exact'));
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const added: number[] = [];
  const removed: number[] = [];
  try {
    const ops = Math.min(o.moves, 1000);
    const start = performance.now();
    for (let m = 0; m < ops && performance.now() - start < o.moveBudgetSeconds * 1000; m++) {
      const i = subscribers + m; // beyond the generated ones: new prefixes
      const key = subV4Key(i);
      let t0 = performance.now();
      let r = await http(rig.daemon!.socket, 'POST', '/v1/subscribers', { subscriber: { prefix: `${subV4(i)}/32`, isp: 'isp1' } }, token, agent);
      if (r.status !== 201) throw new Error(`assign answered ${r.status}: ${r.text.slice(0, 500)}`);
      await untilEntry(sub, key, (v) => v !== undefined, `assigned subscriber ${i}`);
      added.push(performance.now() - t0);
      t0 = performance.now();
      r = await http(rig.daemon!.socket, 'POST', '/v1/subscribers/remove', { match: { prefix: `${subV4(i)}/32` } }, token, agent);
      if (r.status !== 200) throw new Error(`remove answered ${r.status}: ${r.text.slice(0, 500)}`);
      await untilEntry(sub, key, (v) => v === undefined, `removal of subscriber ${i}`);
      removed.push(performance.now() - t0);
    }
  } finally {
    agent.destroy();
    sub.close();
  }
  const lat = (xs: number[]): Latency => {
    const s = sortedCopy(xs);
    return { subscribers, ops: xs.length, medianMs: quantile(s, 0.5), p99Ms: quantile(s, 0.99) };
  };
  res.assign = lat(added);
  res.remove = lat(removed);
  o.log(`  assign: median ${res.assign.medianMs.toFixed(2)} ms, p99 ${res.assign.p99Ms.toFixed(2)} ms; remove: median ${res.remove.medianMs.toFixed(2)} ms, p99 ${res.remove.p99Ms.toFixed(2)} ms`);
}

/** Restart with nothing changed, then a cold start from the registry with the pins gone. */
async function restarts(rig: Rig, subscribers: number, o: ControlOptions, res: ControlResult): Promise<void> {
  await rig.stop();
  let t = await rig.start(120_000);
  res.restart = { subscribers, seconds: t.readyMs / 1000, peakRssMiB: peakRss(rig.daemon!.proc.pid!) };
  o.log(`  restart, nothing changed: ready in ${res.restart.seconds.toFixed(2)} s, peak RSS ${res.restart.peakRssMiB.toFixed(0)} MiB`);
  await rig.stop();
  const d = spawnSync(process.execPath, [join(repoRoot(), 'bin', 'fecflow.js'), 'detach', '--offline', '--node', rig.node, '--pin-root', rig.pinRoot, '--yes'], { encoding: 'utf8' });
  if (d.status !== 0) throw new Error(`detach --offline failed: ${d.stderr}`);
  t = await rig.start(120_000);
  res.coldStart = { subscribers, seconds: t.readyMs / 1000, peakRssMiB: peakRss(rig.daemon!.proc.pid!) };
  o.log(`  cold start from the registry (no pins): ready in ${res.coldStart.seconds.toFixed(2)} s, peak RSS ${res.coldStart.peakRssMiB.toFixed(0)} MiB`);
}

/** `fecflow subscriber import` of N rows into a daemon whose registry is empty. */
async function importCsv(o: ControlOptions, res: ControlResult): Promise<void> {
  const rows = o.applySizes[o.applySizes.length - 1]!;
  const rig = new Rig();
  try {
    rig.setup((acc, core) => config(rig.node, acc, core, 0, o));
    await rig.start(60_000);
    const csv = join(rig.dir, 'subscribers.csv');
    const lines = ['prefix,isp'];
    for (let i = 0; i < rows; i++) lines.push(`${subV4(i)}/32,isp${1 + (i % o.isps)}`);
    const text = `${lines.join('\n')}\n`;
    writeFileSync(csv, text);
    const t0 = performance.now();
    const r = spawnSync(
      process.execPath,
      [join(repoRoot(), 'bin', 'fecflow.js'), '--socket', rig.daemon!.socket, '--token-file', join(rig.dir, 'state', 'token'), 'subscriber', 'import', csv],
      { encoding: 'utf8', timeout: 600_000, maxBuffer: 64 * MIB },
    );
    const seconds = (performance.now() - t0) / 1000;
    if (r.status !== 0) throw new Error(`import exited with ${r.status}: ${(r.stderr || r.stdout).slice(-2000)}`);
    const dir = pinDirs(rig.pinRoot).find((d) => existsSync(join(d, 'sub_v4_exact')));
    const sub = BpfMap.fromPin(join(dir!, 'sub_v4_exact'));
    try {
      if (!sub.get(subV4Key(rows - 1))) throw new Error('imported, but the last row is not in sub_v4_exact');
    } finally {
      sub.close();
    }
    res.importCsv = { rows, seconds, csvBytes: text.length };
    o.log(`  import of ${rows} CSV rows: ${seconds.toFixed(2)} s`);
  } finally {
    await rig.cleanup();
  }
}

function cliStartup(o: ControlOptions, res: ControlResult): void {
  const bin = join(repoRoot(), 'bin', 'fecflow.js');
  const ms: number[] = [];
  for (let i = 0; i < o.cliRuns; i++) {
    const t0 = performance.now();
    const r = spawnSync(process.execPath, [bin, '--version'], { encoding: 'utf8' });
    ms.push(performance.now() - t0);
    if (r.status !== 0) throw new Error(`fecflow --version exited with ${r.status}: ${r.stderr}`);
  }
  res.cli = { ms: summarize(ms) };
  o.log(`  CLI --version: ${res.cli.ms.median.toFixed(0)} ms`);
}

function kernelRoutes(o: ControlOptions, res: ControlResult): void {
  const dir = mkdtempSync(join(tmpdir(), 'fecflow-bench-routes-'));
  const secs: number[] = [];
  try {
    const batch = join(dir, 'routes.batch');
    const lines: string[] = [];
    for (let i = 0; i < o.kernelRoutes; i++) lines.push(`route add ${subV4(i)}/32 dev d0`);
    writeFileSync(batch, lines.join('\n') + '\n');
    for (let r = 0; r < o.rounds; r++) {
      const lab = new Lab();
      try {
        const ns = lab.netns('ffbr', { ipv6: false });
        // no dummy driver in this kernel: a veth pair with both ends in the namespace
        sh('ip', ['-n', ns, 'link', 'add', 'd0', 'type', 'veth', 'peer', 'name', 'd1']);
        sh('ip', ['-n', ns, 'link', 'set', 'd0', 'up']);
        sh('ip', ['-n', ns, 'link', 'set', 'd1', 'up']);
        const t0 = performance.now();
        sh('ip', ['-n', ns, '-batch', batch], { timeoutMs: 600_000 });
        secs.push((performance.now() - t0) / 1000);
        o.log(`  ip -batch: ${o.kernelRoutes} routes in ${secs.at(-1)!.toFixed(2)} s`);
      } finally {
        lab.cleanup();
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  res.kernelRoutes = { routes: o.kernelRoutes, seconds: summarize(secs) };
}

export async function runControlPlane(o: ControlOptions): Promise<ControlResult> {
  if (o.isps < 2) throw new Error('the control-plane bench needs at least 2 ISPs to move subscribers between');
  const res: ControlResult = {};
  const errors: Record<string, string> = {};
  const attempt = async (name: string, fn: () => unknown) => {
    try {
      await fn();
    } catch (e) {
      errors[name] = (e as Error).message.slice(0, 2000);
      o.log(`  ${name} failed: ${(e as Error).message.slice(0, 2000)}`);
    }
  };
  await attempt('daemon', () => coldApplyMoveScrape(o, res));
  await attempt('import', () => importCsv(o, res));
  await attempt('cli', () => cliStartup(o, res));
  await attempt('kernelRoutes', () => kernelRoutes(o, res));
  if (Object.keys(errors).length) res.errors = errors;
  return res;
}
