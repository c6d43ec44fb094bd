// A real FreeRADIUS (Debian's 3.2) for tests: a generated copy of /etc/freeradius/3.0 in a
// temporary directory, listening on loopback on ports of its own, with the users, clients and
// reply attributes a test gives. Its accounting detail file is read back to check what arrived.
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const HAVE_FREERADIUS = existsSync('/usr/sbin/freeradius') && existsSync('/usr/bin/radclient') && existsSync('/etc/freeradius/3.0/radiusd.conf');

/** A UDP port free on loopback now. */
export async function freeUdpPort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

export interface RadiusUser {
  name: string;
  password: string;
  /** reply items as the users file writes them, e.g. 'Session-Timeout = 60' */
  reply?: string[];
}

export interface FreeRadiusOptions {
  secret: string;
  users: RadiusUser[];
  /** FreeRADIUS demands Message-Authenticator in Access-Requests from fecflow (default true) */
  requireMessageAuthenticator?: boolean;
  /** -X (debug, one thread, every packet on stdout); false: -f (threads), for the bench */
  debug?: boolean;
  /** run inside this network namespace (its loopback), through nsenter, which execs it: the
   * PID is the server's */
  netns?: string;
}

export interface AccountingEntry {
  /** the detail file's attributes, unquoted */
  attrs: Record<string, string>;
}

export class FreeRadius {
  readonly dir: string;
  authPort = 0;
  acctPort = 0;
  private proc: ChildProcess | undefined;
  output = '';

  private constructor(private readonly o: FreeRadiusOptions) {
    this.dir = mkdtempSync(join(tmpdir(), 'fecflow-radius-'));
  }

  static async start(o: FreeRadiusOptions): Promise<FreeRadius> {
    const r = new FreeRadius(o);
    try {
      r.authPort = await freeUdpPort();
      r.acctPort = await freeUdpPort();
      await r.generate();
      await r.run();
    } catch (err) {
      await r.close();
      throw err;
    }
    return r;
  }

  /** the server's PID while it runs */
  get pid(): number | undefined {
    return this.proc?.pid;
  }

  get raddb(): string {
    return join(this.dir, 'raddb');
  }

  private async generate(): Promise<void> {
    const d = this.raddb;
    cpSync('/etc/freeradius/3.0', d, { recursive: true, verbatimSymlinks: true });
    const logdir = join(this.dir, 'log');
    mkdirSync(join(logdir, 'radacct'), { recursive: true });
    mkdirSync(join(this.dir, 'run'), { recursive: true });
    let conf = readFileSync(join(d, 'radiusd.conf'), 'utf8');
    conf = conf
      .replace(/^\s*user = .*$/m, '')
      .replace(/^\s*group = .*$/m, '')
      .replace(/^logdir = .*$/m, `logdir = ${logdir}`)
      .replace(/^run_dir = .*$/m, `run_dir = ${join(this.dir, 'run')}`)
      .replace(/^(\s*)reject_delay = .*$/m, '$1reject_delay = 0')
      .replace(/^proxy_requests\s*=.*$/m, 'proxy_requests = no');
    writeFileSync(join(d, 'radiusd.conf'), conf);
    // the inner tunnel (EAP) on a port of its own, away from anything else on this machine
    const inner = join(d, 'sites-available', 'inner-tunnel');
    writeFileSync(inner, readFileSync(inner, 'utf8').replace(/port = 18120/, `port = ${await freeUdpPort()}`));
    unlinkSync(join(d, 'sites-enabled', 'default'));
    writeFileSync(
      join(d, 'sites-enabled', 'default'),
      `server default {
  listen {
    type = auth
    ipaddr = 127.0.0.1
    port = ${this.authPort}
  }
  listen {
    type = acct
    ipaddr = 127.0.0.1
    port = ${this.acctPort}
  }
  authorize {
    preprocess
    files
    pap
  }
  authenticate {
    Auth-Type PAP {
      pap
    }
  }
  preacct {
    preprocess
    acct_unique
  }
  accounting {
    detail
    ok
  }
  post-auth {
    Post-Auth-Type REJECT {
      attr_filter.access_reject
    }
  }
}
`,
    );
    writeFileSync(
      join(d, 'clients.conf'),
      `client fecflow {
  ipaddr = 127.0.0.1
  secret = ${this.o.secret}
  require_message_authenticator = ${this.o.requireMessageAuthenticator === false ? 'no' : 'yes'}
}
`,
    );
    const users = this.o.users
      .map((u) => `${u.name} Cleartext-Password := "${u.password}"\n${(u.reply ?? []).map((r, i, all) => `\t${r}${i < all.length - 1 ? ',' : ''}`).join('\n')}\n`)
      .join('\n');
    writeFileSync(join(d, 'mods-config', 'files', 'authorize'), users);
  }

  private async run(): Promise<void> {
    this.output = '';
    const args = this.o.debug === false ? ['-f', '-l', 'stdout', '-d', this.raddb] : ['-X', '-l', 'stdout', '-d', this.raddb];
    const p = this.o.netns
      ? spawn('nsenter', [`--net=/run/netns/${this.o.netns}`, '/usr/sbin/freeradius', ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
      : spawn('/usr/sbin/freeradius', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc = p;
    p.stdout!.on('data', (b: Buffer) => {
      if (this.output.length < 4_000_000) this.output += b.toString();
    });
    p.stderr!.on('data', (b: Buffer) => {
      if (this.output.length < 4_000_000) this.output += b.toString();
    });
    const deadline = Date.now() + 10_000;
    while (!this.output.includes('Ready to process requests')) {
      if (p.exitCode !== null) throw new Error(`freeradius exited (${p.exitCode}):\n${this.output.slice(-3000)}`);
      if (Date.now() > deadline) throw new Error(`freeradius did not start:\n${this.output.slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Stops the server for real (its ports stop answering). */
  async stop(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null) return;
    const gone = new Promise<void>((r) => p.once('exit', () => r()));
    p.kill('SIGTERM');
    await Promise.race([gone, new Promise((r) => setTimeout(r, 5000))]);
    if (p.exitCode === null && p.signalCode === null) {
      p.kill('SIGKILL');
      await gone;
    }
    this.proc = undefined;
  }

  /** Starts it again on the same ports and files. */
  async restart(): Promise<void> {
    await this.stop();
    await this.run();
  }

  /** Every accounting record in the detail files, in the order written. */
  accounting(): AccountingEntry[] {
    const root = join(this.dir, 'log', 'radacct');
    const out: AccountingEntry[] = [];
    if (!existsSync(root)) return out;
    for (const client of readdirSync(root)) {
      for (const f of readdirSync(join(root, client)).sort()) {
        if (!f.startsWith('detail')) continue;
        for (const block of readFileSync(join(root, client, f), 'utf8').split(/\n\s*\n/)) {
          const lines = block.split('\n').filter((l) => l.startsWith('\t'));
          if (!lines.length) continue;
          const attrs: Record<string, string> = {};
          for (const l of lines) {
            const m = /^\t([\w-]+) = (.*)$/.exec(l);
            if (m) attrs[m[1]!] = m[2]!.replace(/^"(.*)"$/, '$1');
          }
          out.push({ attrs });
        }
      }
    }
    return out;
  }

  async close(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** radclient sending one request (attributes as radclient reads them) to host:port; its exit
 * status and what it printed (the reply's code and attributes). Asynchronous: the fecflow under
 * test may answer from this very process. */
export function radclient(
  target: string,
  kind: 'coa' | 'disconnect' | 'auth' | 'acct',
  secret: string,
  attributes: string[],
  /** retries: how many times radclient sends in all (its -r) */
  opts: { timeout?: number; retries?: number; netns?: string } = {},
): Promise<{ status: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const args = ['-x', '-t', String(opts.timeout ?? 1), '-r', String(opts.retries ?? 1), target, kind, secret];
    const p = opts.netns
      ? spawn('nsenter', [`--net=/run/netns/${opts.netns}`, '/usr/bin/radclient', ...args], { stdio: ['pipe', 'pipe', 'pipe'] })
      : spawn('/usr/bin/radclient', args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    p.stdout!.on('data', (b: Buffer) => (out += b.toString()));
    p.stderr!.on('data', (b: Buffer) => (out += b.toString()));
    const timer = setTimeout(() => p.kill('SIGKILL'), 15_000);
    p.on('error', reject);
    p.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, out });
    });
    p.stdin!.end(attributes.join('\n') + '\n');
  });
}
