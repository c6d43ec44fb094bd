// Traffic in a lab: pings and sequence-numbered UDP streams (scripts/lab/stream.mjs), each run
// inside a host's namespace with nsenter and stopped by the PID we started.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from '../bpf/native.js';
import { LabError, netnsPath } from './sys.js';

export interface StreamTally {
  received: number;
  unique: number;
  duplicates: number;
  outOfOrder: number;
  corrupt: number;
  bytes: number;
  minSeq: number | null;
  maxSeq: number | null;
  missingInside: number;
  gaps: Array<[number, number]>;
  firstAt: number;
  lastAt: number;
}

export interface ReceiverReport {
  port: number;
  /** source address -> stream id -> tally */
  sources: Record<string, Record<string, StreamTally>>;
  /** datagrams that were not ours */
  other: number;
}

export interface SenderReport {
  to: string;
  port: number;
  stream: number;
  sent: number;
  errors: number;
  seconds: number;
  echoed: number;
  echoDuplicates: number;
  echoCorrupt: number;
  echoMissing: number;
  echoGaps: Array<[number, number]>;
}

export const streamScript = (): string => join(repoRoot(), 'scripts', 'lab', 'stream.mjs');

/** A stream.mjs process in a namespace: resolves `ready` on its first line, `report` on its last. */
class Worker<R> {
  readonly child: ChildProcess;
  readonly ready: Promise<void>;
  readonly report: Promise<R>;
  private lines: string[] = [];
  private stderr = '';

  constructor(ns: string, args: string[]) {
    // At a higher priority (nice -10) than the builds and tests that share the machine: a
    // receiver that is not scheduled for half a second overflows its socket buffer, and that
    // would count as loss in the network.
    this.child = spawn('nsenter', [`--net=${netnsPath(ns)}`, 'nice', '-n', '-10', process.execPath, streamScript(), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let buf = '';
    let onReady!: () => void;
    let onFail!: (e: Error) => void;
    this.ready = new Promise<void>((res, rej) => {
      onReady = res;
      onFail = rej;
    });
    this.ready.catch(() => undefined);
    this.child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString('utf8');
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        this.lines.push(line);
        if (this.lines.length === 1) onReady();
      }
    });
    this.child.stderr!.on('data', (d: Buffer) => (this.stderr += d.toString('utf8')));
    this.report = new Promise<R>((resolve, reject) => {
      this.child.on('error', (e) => {
        onFail(e);
        reject(e);
      });
      // 'close', not 'exit': the last line may still be in the pipe when the process is gone
      this.child.on('close', (code, signal) => {
        const last = this.lines.length > 1 ? this.lines[this.lines.length - 1] : undefined;
        if (last) {
          resolve(JSON.parse(last) as R);
        } else {
          const e = new LabError(`stream ${args[0]} in ${ns} exited (${code ?? signal}) without a report: ${this.stderr.trim()}`);
          onFail(e);
          reject(e);
        }
      });
    });
    this.report.catch(() => undefined);
  }

  /** SIGTERM: a receiver prints its report, a sender stops sending and waits for echoes. */
  stop(): Promise<R> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
    return this.report;
  }
}

export class Receiver extends Worker<ReceiverReport> {
  constructor(ns: string, port: number, opts: { echo?: boolean; bind?: string[] } = {}) {
    super(ns, ['recv', '--port', String(port), ...(opts.echo ? ['--echo'] : []), ...(opts.bind?.length ? ['--bind', opts.bind.join(',')] : [])]);
  }
}

export interface SendOptions {
  to: string;
  port: number;
  /** packets per second */
  rate: number;
  /** how many packets (or seconds × rate) */
  count?: number;
  seconds?: number;
  stream?: number;
  /** UDP payload bytes */
  size?: number;
  /** how long to wait for echoes after the last packet */
  echoWaitMs?: number;
}

export class Sender extends Worker<SenderReport> {
  constructor(ns: string, o: SendOptions) {
    super(ns, [
      'send',
      '--to',
      o.to,
      '--port',
      String(o.port),
      '--rate',
      String(o.rate),
      ...(o.count !== undefined ? ['--count', String(o.count)] : ['--seconds', String(o.seconds ?? 3)]),
      '--stream',
      String(o.stream ?? 1),
      '--size',
      String(o.size ?? 64),
      '--echo-wait',
      String(o.echoWaitMs ?? 500),
    ]);
  }
}

/** The tally of one stream at a receiver (zeros when nothing of it arrived). */
export function tallyOf(r: ReceiverReport, source: string, stream: number): StreamTally {
  return (
    r.sources[source]?.[String(stream)] ?? {
      received: 0,
      unique: 0,
      duplicates: 0,
      outOfOrder: 0,
      corrupt: 0,
      bytes: 0,
      minSeq: null,
      maxSeq: null,
      missingInside: 0,
      gaps: [],
      firstAt: 0,
      lastAt: 0,
    }
  );
}

export interface PingResult {
  ok: boolean;
  transmitted: number;
  received: number;
  /** average round trip in ms */
  avgMs: number | null;
  output: string;
}

/** ping from inside a namespace. */
export function ping(ns: string, address: string, o: { count?: number; intervalS?: number; timeoutS?: number } = {}): Promise<PingResult> {
  const args = ['-c', String(o.count ?? 3), '-i', String(o.intervalS ?? 0.2), '-W', String(o.timeoutS ?? 1), '-q', address];
  return new Promise((resolve) => {
    const c = spawn('nsenter', [`--net=${netnsPath(ns)}`, 'ping', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    c.stdout!.on('data', (d: Buffer) => (output += d.toString('utf8')));
    c.stderr!.on('data', (d: Buffer) => (output += d.toString('utf8')));
    c.on('error', (e) => resolve({ ok: false, transmitted: 0, received: 0, avgMs: null, output: e.message }));
    c.on('close', (code) => {
      const m = /(\d+) packets transmitted, (\d+) received/.exec(output);
      const rtt = /= [\d.]+\/([\d.]+)\//.exec(output);
      const transmitted = m ? Number(m[1]) : 0;
      const received = m ? Number(m[2]) : 0;
      resolve({ ok: code === 0 && received === transmitted, transmitted, received, avgMs: rtt ? Number(rtt[1]) : null, output });
    });
  });
}
