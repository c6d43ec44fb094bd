// A real nats-server (Debian's 2.9) for the fleet's tests: JetStream on, bound to loopback on a
// free port, its store in a temp directory; it can be killed (SIGKILL) and started again on the
// same port and store, as a crashed and restarted server would be.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../ldp/port.js';

export class NatsServer {
  private proc: ChildProcess | undefined;
  private log = '';

  private constructor(
    readonly port: number,
    readonly dir: string,
  ) {}

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  static async start(): Promise<NatsServer> {
    const s = new NatsServer(await freePort(), mkdtempSync(join(tmpdir(), 'fecflow-nats-')));
    await s.up();
    return s;
  }

  /** Starts the server (again) on its port and store. */
  async up(): Promise<void> {
    if (this.proc) return;
    this.log = '';
    const p = spawn('nats-server', ['-js', '-a', '127.0.0.1', '-p', String(this.port), '-sd', join(this.dir, 'js'), '--http_port', '0', '-l', join(this.dir, `server.log`)], { stdio: ['ignore', 'pipe', 'pipe'] });
    p.stderr!.on('data', (d: Buffer) => (this.log += d.toString()));
    p.stdout!.on('data', (d: Buffer) => (this.log += d.toString()));
    this.proc = p;
    const { readFileSync } = await import('node:fs');
    for (let i = 0; i < 200; i++) {
      let text = this.log;
      try {
        text += readFileSync(join(this.dir, 'server.log'), 'utf8');
      } catch {
        // not written yet
      }
      if (/Server is ready/.test(text)) return;
      if (p.exitCode !== null) throw new Error(`nats-server exited (${p.exitCode}): ${text.slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error('nats-server did not become ready in 10 s');
  }

  /** SIGKILL, as a crash; resolves when it has exited. */
  async kill(): Promise<void> {
    const p = this.proc;
    if (!p) return;
    this.proc = undefined;
    if (p.exitCode !== null || p.signalCode !== null) return;
    await new Promise<void>((r) => {
      p.once('exit', () => r());
      p.kill('SIGKILL');
    });
  }

  async close(): Promise<void> {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Waits until cond() holds (polling), or throws with what it was waiting for. */
export async function waitFor(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
