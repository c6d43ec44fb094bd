// A headend in namespaces for the daemon's root tests:
//   subscriber ns [s0] --veth-- [acc] router ns [core] --veth-- [k0] sink ns
// The daemon runs in the router ns (`nsenter --net`, so bpffs stays visible) as a child
// process of the test, with its pins under a unique /sys/fs/bpf/fecflow-test-<id>/ and its API
// on a Unix socket in a temp dir. The sink ns runs a tiny XDP program that counts MPLS frames
// per top label. cleanup() removes all of it, and stops the daemon by its PID.
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, renameSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BpfMap, BpfObject, XdpLink, withNetns } from '../../control/bpf/index.js';
import { main } from '../../control/cli/main.js';
import { Lab, macOf, uniqueName, sh } from '../helpers/netns.js';

export const ROOT = join(import.meta.dirname, '..', '..');
const SINK_SRC = join(ROOT, 'test', 'daemon', 'mpls_sink.bpf.c');
const SINK_OBJ = join(ROOT, 'build', 'test-daemon', 'mpls_sink.bpf.o');

/** Compile the TypeScript (the daemon runs from dist/) and the sink program when stale. */
export function buildOnce(): void {
  const newest = (dir: string): number => {
    let t = 0;
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      t = Math.max(t, e.isDirectory() ? newest(p) : e.name.endsWith('.ts') ? statSync(p).mtimeMs : 0);
    }
    return t;
  };
  const out = join(ROOT, 'dist', 'control', 'cli', 'main.js');
  if (!existsSync(out) || statSync(out).mtimeMs < newest(join(ROOT, 'control'))) {
    try {
      execFileSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: ROOT, stdio: 'pipe', timeout: 300_000 });
    } catch (e) {
      // tsc still emits when some other part of the tree has type errors; what matters here
      // is that the daemon's JavaScript is fresh.
      if (!existsSync(out) || statSync(out).mtimeMs < newest(join(ROOT, 'control'))) throw e;
    }
  }
  if (!existsSync(join(ROOT, 'build', 'bpf', 'fecflow.bpf.o'))) execFileSync('make', ['-s', '-C', 'dataplane'], { cwd: ROOT, stdio: 'pipe' });
  if (!existsSync(SINK_OBJ) || statSync(SINK_OBJ).mtimeMs < statSync(SINK_SRC).mtimeMs) {
    execFileSync('mkdir', ['-p', join(ROOT, 'build', 'test-daemon')]);
    execFileSync('clang', ['-O2', '-g', '-target', 'bpf', '-Wall', '-Werror', `-I/usr/include/${process.arch === 'arm64' ? 'aarch64' : 'x86_64'}-linux-gnu`, '-c', SINK_SRC, '-o', SINK_OBJ]);
  }
}

export const SUB_MAC = '02:00:00:00:00:01';
export const DST = '198.51.100.1';

export interface CliResult {
  code: number;
  out: string;
  err: string;
}

export class Rig {
  readonly lab = new Lab();
  readonly dir = mkdtempSync(join(tmpdir(), 'fecflow-daemon-'));
  readonly id = uniqueName('t');
  readonly pinRoot = `/sys/fs/bpf/fecflow-test-${this.id}`;
  readonly node = `n${this.id}`;
  readonly configPath = join(this.dir, 'router.yaml');
  readonly socket = join(this.dir, 'api.sock');
  readonly stateDir = join(this.dir, 'state');
  readonly tcpPort = 20_000 + Math.floor(Math.random() * 20_000);
  rt = '';
  sub = '';
  sink = '';
  acc = '';
  core = '';
  s0 = '';
  k0 = '';
  proc: ChildProcess | undefined;
  logs = '';
  private sinkObj: BpfObject | undefined;
  private sinkLink: XdpLink | undefined;

  /** Namespaces, veths, the sink program, and the config file. */
  setup(): void {
    this.rt = this.lab.netns('ffrt', { ipv6: false });
    this.sub = this.lab.netns('ffsb', { ipv6: false });
    this.sink = this.lab.netns('ffsk', { ipv6: false });
    [this.s0, this.acc] = this.lab.veth(this.sub, this.rt, { macA: SUB_MAC, addrA: '100.64.0.2/24' });
    [this.core, this.k0] = this.lab.veth(this.rt, this.sink, { macB: '02:00:00:00:00:99' });
    const accMac = macOf(this.acc, this.rt);
    sh('ip', ['-n', this.sub, 'route', 'add', 'default', 'via', '100.64.0.1']);
    sh('ip', ['-n', this.sub, 'neigh', 'replace', '100.64.0.1', 'lladdr', accMac, 'dev', this.s0]);
    this.sinkObj = BpfObject.open(SINK_OBJ);
    const prog = this.sinkObj.program('xdp_mpls_sink');
    this.sinkLink = withNetns(this.sink, () => prog.attachXdp(this.k0, { mode: 'native' }));
    this.writeConfig(this.config());
  }

  config(opts: { label1?: number; label2?: number; subIsp?: string; ilm?: number; moreIsps?: number; subDeliver?: string[]; popToSub?: Array<[number, string]> } = {}): string {
    let extraIsps = '';
    for (let i = 0; i < (opts.moreIsps ?? 0); i++) {
      extraIsps += `  - id: ${i + 3}\n    name: isp${i + 3}\n    upstream:\n      labels: [${10_000 + i}]\n      nexthop: { interface: core, neighbour: lsr }\n`;
    }
    let ilm = '';
    for (const [label, isp] of opts.popToSub ?? []) ilm += `  - { label: ${label}, action: pop-to-subscriber, isp: ${isp} }\n`;
    for (let i = 0; i < (opts.ilm ?? 0); i++) {
      ilm += `  - { label: ${100_000 + i}, action: pop-forward, nexthop: { interface: core, neighbour: lsr } }\n`;
    }
    return `node: ${this.node}
interfaces:
  - name: acc
    device: ${this.acc}
    role: access
  - name: core
    device: ${this.core}
    role: core
    neighbours:
      lsr: "02:00:00:00:00:99"
isps:
  - id: 1
    name: alpha
    upstream:
      labels: [${opts.label1 ?? 100}]
      nexthop: { interface: core, neighbour: lsr }
  - id: 2
    name: beta
    upstream:
      labels: [${opts.label2 ?? 200}]
      nexthop: { interface: core, neighbour: lsr }
${extraIsps}subscribers:
  - name: s1
    isp: ${opts.subIsp ?? 'alpha'}
    match: { mac: "${SUB_MAC}" }
${opts.subDeliver ? `    deliver: { interface: acc, addresses: [${opts.subDeliver.map((a) => `"${a}"`).join(', ')}] }\n` : ''}${ilm ? `ilm:\n${ilm}` : ''}`;
  }

  /** Replace the config file atomically, as an editor or config management would. */
  writeConfig(text: string): void {
    const tmp = `${this.configPath}.new`;
    writeFileSync(tmp, text);
    renameSync(tmp, this.configPath);
  }

  /** `nsenter` arguments that run `fecflow serve` for this node in the router namespace. */
  private serveArgs(listen: string[]): string[] {
    return [
      `--net=/run/netns/${this.rt}`,
      process.execPath,
      join(ROOT, 'bin', 'fecflow.js'),
      'serve',
      '-c', this.configPath,
      '--pin-root', this.pinRoot,
      '--state-dir', this.stateDir,
      '--listen', ...listen,
    ];
  }

  /** Start `fecflow serve` in the router namespace and wait for /readyz. */
  async start(extra: string[] = []): Promise<void> {
    const args = [...this.serveArgs([`unix:${this.socket}`, `127.0.0.1:${this.tcpPort}`]), ...extra];
    const p = spawn('nsenter', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc = p;
    p.stdout!.on('data', (c) => (this.logs += c));
    p.stderr!.on('data', (c) => (this.logs += c));
    const t0 = Date.now();
    for (;;) {
      if (p.exitCode !== null) throw new Error(`daemon exited with ${p.exitCode}:\n${this.logs}`);
      const r = await this.http('GET', '/readyz').catch(() => undefined);
      if (r?.status === 200) return;
      if (Date.now() - t0 > 30_000) throw new Error(`daemon not ready after 30 s:\n${this.logs}`);
      await sleep(100);
    }
  }

  /** Runs a second `fecflow serve` for this node (other listeners) and returns how it ended. */
  async serveOnce(): Promise<{ code: number | null; out: string }> {
    const p = spawn('nsenter', this.serveArgs([`unix:${this.socket}.2`]), { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout!.on('data', (c) => (out += c));
    p.stderr!.on('data', (c) => (out += c));
    const code = await Promise.race([new Promise<number | null>((r) => p.once('exit', (c) => r(c))), sleep(20_000).then(() => -1)]);
    if (code === -1) p.kill('SIGKILL');
    return { code, out };
  }

  /** Stop the daemon by its PID with a signal and wait for it to exit. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return p?.exitCode ?? null;
    const done = new Promise<number | null>((r) => p.once('exit', (code) => r(code)));
    p.kill(signal);
    const code = await done;
    this.proc = undefined;
    return code;
  }

  async waitExit(ms = 10_000): Promise<number | null> {
    const p = this.proc;
    if (!p) return null;
    if (p.exitCode !== null) return p.exitCode;
    return Promise.race([new Promise<number | null>((r) => p.once('exit', (c) => r(c))), sleep(ms).then(() => -1)]);
  }

  /** A call to the daemon's API with `token`: the node token when undefined, none when null. */
  http(method: string, path: string, body?: unknown, token?: string | null): Promise<{ status: number; json: any; text: string }> {
    return new Promise((resolve, reject) => {
      const headers: Record<string, string> = {};
      let t = token;
      if (t === undefined) {
        try {
          t = readFileSync(join(this.stateDir, 'token'), 'utf8').trim();
        } catch {
          t = null; // not written yet (the daemon is starting): /readyz needs none
        }
      }
      if (t) headers.authorization = `Bearer ${t}`;
      const payload = body === undefined ? undefined : JSON.stringify(body);
      if (payload) headers['content-type'] = 'application/json';
      const req = request({ socketPath: this.socket, path, method, headers, agent: false }, (res) => {
        let t = '';
        res.on('data', (c) => (t += c));
        res.on('end', () => {
          let json: any;
          try {
            json = JSON.parse(t);
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, json, text: t });
        });
      });
      req.on('error', reject);
      req.end(payload);
    });
  }

  /** Run the CLI in-process against the daemon's socket. */
  async cli(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
    let out = '';
    let err = '';
    const code = await main(
      ['node', 'fecflow', '--socket', this.socket, '--token-file', join(this.stateDir, 'token'), ...args],
      { out: (t) => void (out += t), err: (t) => void (err += t), isTTY: false },
      { ...env },
    );
    return { code, out, err };
  }

  pinned(map: string): BpfMap {
    return BpfMap.fromPin(join(this.pinRoot, this.node, 'maps', map));
  }

  /** Every entry of a pinned map as hex key=value lines, for before/after comparisons. */
  snapshot(maps: string[]): string {
    return maps
      .map((name) => {
        const m = this.pinned(name);
        try {
          return `${name}: ${m.entries().map(([k, v]) => `${k.toString('hex')}=${v.toString('hex')}`).sort().join(' ')}`;
        } finally {
          m.close();
        }
      })
      .join('\n');
  }

  /** MPLS frames the sink has received with this top label. */
  sinkCount(label: number): number {
    const m = this.sinkObj!.map('mpls_count');
    const k = Buffer.alloc(4);
    k.writeUInt32LE(label);
    const v = m.get(k);
    if (!v) return 0;
    let n = 0n;
    for (const c of m.splitPerCpu(v)) n += c.readBigUInt64LE(0);
    return Number(n);
  }

  /** Send `count` UDP datagrams from the subscriber at `pps`; resolves with how many were sent. */
  send(count: number, pps: number): Promise<number> {
    return new Promise((resolve, reject) => {
      execFile(
        'ip',
        ['netns', 'exec', this.sub, process.execPath, join(ROOT, 'test', 'daemon', 'udp-sender.mjs'), DST, '9000', String(count), String(pps)],
        { timeout: 120_000 },
        (err, stdout, stderr) => (err ? reject(new Error(`sender failed: ${err.message} ${stderr}`)) : resolve(Number(stdout.trim()))),
      );
    });
  }

  /** Never throws: the daemon (by PID), the sink, any pinned links, the pins, namespaces, files. */
  async cleanup(): Promise<void> {
    try {
      if (this.proc && this.proc.exitCode === null) {
        const done = new Promise((r) => this.proc!.once('exit', r));
        this.proc.kill('SIGKILL');
        await Promise.race([done, sleep(5000)]);
      }
    } catch {
      /* gone */
    }
    try {
      this.sinkLink?.detach();
    } catch {
      /* namespace gone */
    }
    try {
      this.sinkObj?.close();
    } catch {
      /* closed */
    }
    const links = join(this.pinRoot, this.node, 'links');
    try {
      for (const l of readdirSync(links)) {
        try {
          XdpLink.fromPin(join(links, l)).detach();
        } catch {
          /* already detached */
        }
      }
    } catch {
      /* no links */
    }
    rmSync(this.pinRoot, { recursive: true, force: true });
    this.lab.cleanup();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
