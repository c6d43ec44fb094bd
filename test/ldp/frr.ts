// Test rig for LDP interop: FRR's zebra, staticd and ldpd in one namespace (own pathspace,
// -P 0, config and pid files in a temp dir the frr user can read), fecflow's speaker as its own
// process (dist/control/ldp/standalone.js) in another, joined by a veth pair. Everything is
// removed in close(), processes by the PIDs found in our namespaces.
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Lab, inNetns, sh } from '../helpers/netns.js';

export interface RigOptions {
  frrAddr: string;
  ffAddr: string;
  /** FRR static routes: prefix -> next hop */
  frrStatic: Record<string, string>;
  ffEgress: string[];
  ffLabelRange: [number, number];
  /** capture LDP on fecflow's interface to this file */
  capture?: string;
  /** announce graceful restart (RFC 3478) in fecflow's Initialization */
  gracefulRestart?: { reconnectMs: number; recoveryMs: number };
}

const FRR = '/usr/lib/frr';

export class FrrRig {
  readonly lab = new Lab();
  readonly nsFrr: string;
  readonly nsFf: string;
  readonly ifFrr: string;
  readonly ifFf: string;
  readonly dir: string;
  readonly pathspace: string;
  private speaker?: ChildProcess;
  private capture?: ChildProcess;
  private nextId = 1;
  private readonly waiting = new Map<number, (v: Record<string, unknown>) => void>();
  readonly events: Record<string, unknown>[] = [];
  stderr = '';

  constructor(private readonly o: RigOptions) {
    this.nsFrr = this.lab.netns('ffldf');
    this.nsFf = this.lab.netns('ffldn');
    [this.ifFrr, this.ifFf] = this.lab.veth(this.nsFrr, this.nsFf, { addrA: `${o.frrAddr}/24`, addrB: `${o.ffAddr}/24` }, 'ffld');
    this.dir = mkdtempSync(join(tmpdir(), 'ffldp-'));
    this.pathspace = this.nsFrr;
  }

  /** Starts capture (if asked), FRR, then the fecflow speaker; resolves when the speaker is ready. */
  async start(): Promise<void> {
    if (this.o.capture) {
      this.capture = spawn('ip', ['netns', 'exec', this.nsFf, 'tcpdump', '-U', '-n', '-i', this.ifFf, '-w', this.o.capture, 'port', '646'], { stdio: 'ignore' });
      await new Promise((r) => setTimeout(r, 500));
    }
    this.startFrr();
    await this.startSpeaker();
  }

  private startFrr(): void {
    const d = this.dir;
    writeFileSync(join(d, 'zebra.conf'), 'hostname frr-test\n');
    writeFileSync(join(d, 'staticd.conf'), Object.entries(this.o.frrStatic).map(([p, nh]) => `ip route ${p} ${nh}\n`).join(''));
    writeFileSync(
      join(d, 'ldpd.conf'),
      [
        'mpls ldp',
        ` router-id ${this.o.frrAddr}`,
        ' discovery hello holdtime 15',
        ' discovery hello interval 1',
        ' address-family ipv4',
        `  discovery transport-address ${this.o.frrAddr}`,
        `  interface ${this.ifFrr}`,
        '  exit',
        ' exit-address-family',
        'exit',
        '',
      ].join('\n'),
    );
    chmodSync(d, 0o755);
    const frr = Number(sh('id', ['-u', 'frr']).trim());
    const frrGid = Number(sh('id', ['-g', 'frr']).trim());
    chownSync(d, frr, frrGid);
    for (const f of ['zebra.conf', 'staticd.conf', 'ldpd.conf']) chownSync(join(d, f), frr, frrGid);
    for (const daemon of ['zebra', 'staticd', 'ldpd']) {
      inNetns(this.nsFrr, `${FRR}/${daemon}`, ['-d', '-N', this.pathspace, '-P', '0', '-f', join(d, `${daemon}.conf`), '-i', join(d, `${daemon}.pid`), '--log', `file:${join(d, `${daemon}.log`)}`]);
    }
  }

  private async startSpeaker(): Promise<void> {
    const cfg = join(this.dir, 'fecflow-ldp.json');
    writeFileSync(cfg, JSON.stringify({ lsrId: this.o.ffAddr, transportAddress: this.o.ffAddr, interfaces: [this.ifFf], helloInterval: 1, egress: this.o.ffEgress, labelRange: this.o.ffLabelRange, backoff: { initialMs: 1000, maxMs: 4000 }, ...(this.o.gracefulRestart ? { gracefulRestart: this.o.gracefulRestart } : {}) }));
    const child = spawn('nsenter', [`--net=/run/netns/${this.nsFf}`, process.execPath, join(process.cwd(), 'dist/control/ldp/standalone.js'), cfg], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.speaker = child;
    child.stderr!.on('data', (d) => (this.stderr += d));
    const ready = new Promise<void>((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`speaker exited ${code}: ${this.stderr}`)));
      createInterface({ input: child.stdout! }).on('line', (line) => {
        const msg = JSON.parse(line) as Record<string, unknown>;
        if (typeof msg.reply === 'number') this.waiting.get(msg.reply)?.(msg);
        else if (msg.event === 'ready') resolve();
        else this.events.push(msg);
      });
    });
    await ready;
  }

  async ff(cmd: Record<string, unknown>): Promise<Record<string, unknown>> {
    const id = this.nextId++;
    const p = new Promise<Record<string, unknown>>((resolve) => this.waiting.set(id, resolve));
    this.speaker!.stdin!.write(JSON.stringify({ id, ...cmd }) + '\n');
    return p;
  }

  vtysh(...cmds: string[]): string {
    return sh('vtysh', ['--vty_socket', `/run/frr/${this.pathspace}`, ...cmds.flatMap((c) => ['-c', c])]);
  }

  frrJson<T>(cmd: string): T {
    return JSON.parse(this.vtysh(cmd)) as T;
  }

  log(daemon: string): string {
    try {
      return sh('cat', [join(this.dir, `${daemon}.log`)]);
    } catch {
      return '';
    }
  }

  async close(): Promise<void> {
    if (this.speaker && this.speaker.exitCode === null) {
      const exited = new Promise((r) => this.speaker!.once('exit', r));
      this.speaker.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
      if (this.speaker.exitCode === null) this.speaker.kill('SIGKILL');
    }
    if (this.capture && this.capture.exitCode === null) {
      // let tcpdump drain what the kernel already captured before asking it to stop
      await new Promise((r) => setTimeout(r, 1000));
      const exited = new Promise((r) => this.capture!.once('exit', r));
      this.capture.kill('SIGINT');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
    }
    // ldpd forks two children not in its pid file: end every process left in our namespaces
    for (const ns of [this.nsFrr, this.nsFf]) {
      let pids: string[] = [];
      try {
        pids = sh('ip', ['netns', 'pids', ns]).split('\n').filter(Boolean);
      } catch {
        // namespace already gone
      }
      for (const pid of pids) {
        try {
          process.kill(Number(pid), 'SIGTERM');
        } catch {
          // already exited
        }
      }
    }
    await new Promise((r) => setTimeout(r, 500));
    for (const ns of [this.nsFrr, this.nsFf]) {
      try {
        for (const pid of sh('ip', ['netns', 'pids', ns]).split('\n').filter(Boolean)) process.kill(Number(pid), 'SIGKILL');
      } catch {
        // gone
      }
    }
    this.lab.cleanup();
    rmSync(this.dir, { recursive: true, force: true });
    rmSync(`/run/frr/${this.pathspace}`, { recursive: true, force: true });
  }
}

export async function until<T>(what: string, fn: () => T | undefined | false | Promise<T | undefined | false>, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
