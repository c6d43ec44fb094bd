// What the end-to-end tests need around a lab: a lab with a name unique to this run that is
// always torn down, packet captures (tcpdump inside a namespace, read back with pcap-parser),
// and raw frames sent from a host (AF_PACKET, from python's standard library).
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Lab } from '../../control/lab/lab.js';
import { readFrames } from './pcap.js';
import { nsRun } from '../../control/lab/sys.js';

/** A lab name unique to this run: 'e' + 7 random base-36 characters (lab names are ≤ 8). */
export function uniqueLabName(): string {
  const n = BigInt(`0x${randomBytes(8).toString('hex')}`).toString(36);
  return `e${n.slice(-7).padStart(7, '0')}`;
}

/** Brings up a lab for one test file; down() is safe in afterAll even if up() failed half way. */
export function testLab(o: { ispMtu?: number; ldp?: boolean } = {}): { up(): Promise<Lab>; down(): Promise<void>; readonly lab: Lab; readonly name: string } {
  const name = uniqueLabName();
  let lab: Lab | undefined;
  return {
    name,
    async up() {
      lab = await Lab.up({ name, logLevel: o.ldp ? 'info' : 'warn', ...(o.ispMtu === undefined ? {} : { ispMtu: o.ispMtu }), ldp: o.ldp === true });
      return lab;
    },
    async down() {
      await Lab.down(name);
    },
    get lab() {
      if (!lab) throw new Error(`lab ${name} is not up`);
      return lab;
    },
  };
}

/** tcpdump on one interface of a namespace, writing a pcap file; stop() returns the frames. */
export class Capture {
  private readonly child: ChildProcess;
  private readonly exited: Promise<void>;
  readonly ready: Promise<void>;
  readonly file: string;
  private stderr = '';

  constructor(
    readonly ns: string,
    readonly ifname: string,
    dir: string,
  ) {
    this.file = join(dir, `${ns}-${ifname}.pcap`);
    // -Z root: tcpdump would otherwise drop to its own user before opening the file
    this.child = spawn('nsenter', [`--net=/run/netns/${ns}`, 'tcpdump', '-i', ifname, '-w', this.file, '-U', '-s', '4096', '-n', '-Z', 'root', '--immediate-mode'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    this.exited = new Promise((res) => this.child.on('exit', () => res()));
    this.ready = new Promise((res, rej) => {
      const t = setTimeout(() => rej(new Error(`tcpdump on ${ns}/${ifname} did not start: ${this.stderr}`)), 15_000);
      this.child.stderr!.on('data', (d: Buffer) => {
        this.stderr += d.toString('utf8');
        if (this.stderr.includes('listening on')) {
          clearTimeout(t);
          res();
        }
      });
      this.child.on('exit', (code) => {
        clearTimeout(t);
        rej(new Error(`tcpdump on ${ns}/${ifname} exited (${code}): ${this.stderr}`));
      });
    });
    this.ready.catch(() => undefined);
  }

  /** Stops tcpdump (SIGINT flushes the file) and reads the frames back. */
  async stop(): Promise<Buffer[]> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGINT');
    await this.exited;
    return existsSync(this.file) ? readFrames(this.file) : [];
  }

  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }
}

export function tempDir(prefix: string): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

const RAW_SENDER = `
import socket, sys
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((sys.argv[1], 0))
n = 0
for line in sys.stdin:
    line = line.strip()
    if line:
        s.send(bytes.fromhex(line))
        n += 1
print(n)
`;

/** Sends raw Ethernet frames out of an interface of a namespace; resolves to how many were sent. */
export function sendRaw(ns: string, ifname: string, frames: readonly Buffer[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const c = spawn('nsenter', [`--net=/run/netns/${ns}`, '/usr/bin/python3', '-c', RAW_SENDER, ifname], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    c.stdout!.on('data', (d: Buffer) => (out += d.toString('utf8')));
    c.stderr!.on('data', (d: Buffer) => (err += d.toString('utf8')));
    c.on('error', reject);
    c.on('close', (code) => (code === 0 ? resolve(Number(out.trim())) : reject(new Error(`raw sender failed (${code}): ${err.trim()}`))));
    c.stdin!.end(frames.map((f) => f.toString('hex')).join('\n') + '\n');
  });
}

/** IPv6 text in its canonical form (parseFrame writes every group out). */
export function canonicalIp(a: string): string {
  return a.includes(':') ? new URL(`http://[${a}]/`).hostname.slice(1, -1) : a;
}

/** Where frames were dropped, for a failure message: each router's drop counters and every
 * interface of the lab whose kernel counters show drops or errors. */
export async function lossReport(lab: Lab): Promise<string> {
  const lines: string[] = [];
  for (const r of ['headend', 'lsr', 'tailend'] as const) {
    try {
      const s = await lab.api(r).get<{ drops: Array<{ reason: string; packets: string }> }>('/v1/stats');
      const d = s.drops.filter((x) => BigInt(x.packets) > 0n);
      if (d.length) lines.push(`${r} drops: ${d.map((x) => `${x.reason}=${x.packets}`).join(' ')}`);
    } catch (err) {
      lines.push(`${r}: ${(err as Error).message}`);
    }
  }
  for (const ns of lab.names.namespaces) {
    const links = JSON.parse(nsRun(ns, 'ip', ['-j', '-s', 'link', 'show'])) as Array<{
      ifname: string;
      stats64?: { rx: { dropped: number; errors: number }; tx: { dropped: number; errors: number } };
    }>;
    for (const l of links) {
      const s = l.stats64;
      if (s && (s.rx.dropped || s.rx.errors || s.tx.dropped || s.tx.errors)) {
        lines.push(`${ns}/${l.ifname}: rx dropped ${s.rx.dropped} errors ${s.rx.errors}, tx dropped ${s.tx.dropped} errors ${s.tx.errors}`);
      }
    }
    const snmp = nsRun(ns, 'nstat', ['-az', 'UdpRcvbufErrors', 'Udp6RcvbufErrors', 'UdpSndbufErrors', 'UdpInCsumErrors', 'UdpNoPorts', 'Udp6NoPorts']);
    for (const line of snmp.split('\n')) {
      const m = /^(\S+)\s+(\d+)/.exec(line);
      if (m && m[2] !== '0') lines.push(`${ns}: ${m[1]} ${m[2]}`);
    }
  }
  return lines.join('\n') || 'no drops counted anywhere';
}
