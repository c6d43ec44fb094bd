// Benchmark 4: session opens through the API with the ISP's RADIUS server accepting. A
// headend's `fecflow serve` in a fresh namespace (as the control-plane bench starts it) with N
// session-admitted subscribers, and Debian's FreeRADIUS in the same namespace (threaded, not
// debug) accepting every User-Name. C clients open one session per subscriber over the API's
// Unix socket (keep-alive): each open is an Access-Request and its Access-Accept, one registry
// transaction (session row, ledger and outbox row of the Start, audit record) and the
// subscriber's classifier entry written. Then the Starts are sent (outbox drained), and every
// session is closed the same way (Stop with the final counters).
import { readFileSync, writeFileSync } from 'node:fs';
import { Agent } from 'node:http';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { FreeRadius } from '../test/helpers/freeradius.js';
import { Rig, http } from './control.js';

export interface SessionBenchOptions {
  subscribers: number;
  concurrency: number;
  log: (msg: string) => void;
}

export interface SessionBenchResult {
  subscribers: number;
  concurrency: number;
  opens: { seconds: number; perSecond: number; failed: number; daemonCpuMsPerOpen: number; radiusCpuMsPerOpen: number };
  /** from the first open until every Start was answered by the server */
  startsAnsweredSeconds: number;
  closes: { seconds: number; perSecond: number; failed: number };
}

const SECRET = 'bench-secret';

function config(node: string, acc: string, core: string, n: number, radius?: FreeRadius): string {
  return JSON.stringify({
    node,
    interfaces: [
      { name: 'acc', device: acc, role: 'access' },
      { name: 'core', device: core, role: 'core', neighbours: { lsr: '02:00:00:00:00:99' } },
    ],
    isps: [
      {
        id: 1,
        name: 'alpha',
        upstream: { labels: [100], nexthop: { interface: 'core', neighbour: 'lsr' } },
        ...(radius ? { radius: { server: '127.0.0.1', authPort: radius.authPort, acctPort: radius.acctPort, secret: SECRET, password: 'pw', interimInterval: 3600 } } : {}),
      },
    ],
    subscribers: Array.from({ length: n }, (_, i) => ({
      name: `s${i}`,
      isp: 'alpha',
      admission: 'session',
      match: { mac: `02:10:${[(i >> 24) & 255, (i >> 16) & 255, (i >> 8) & 255, i & 255].map((b) => b.toString(16).padStart(2, '0')).join(':')}` },
    })),
    ilm: [],
  });
}

/** Runs `work(i)` for i in 0..n-1 with `c` at a time; how many failed. */
async function pool(n: number, c: number, work: (i: number) => Promise<boolean>): Promise<number> {
  let next = 0;
  let failed = 0;
  await Promise.all(
    Array.from({ length: c }, async () => {
      while (next < n) {
        const i = next++;
        if (!(await work(i).catch(() => false))) failed++;
      }
    }),
  );
  return failed;
}

export async function runSessions(o: SessionBenchOptions): Promise<SessionBenchResult> {
  const rig = new Rig();
  let radius: FreeRadius | undefined;
  try {
    let acc = '';
    let core = '';
    rig.setup((a, c) => {
      [acc, core] = [a, c];
      return '{}'; // written below, once the server's ports are known
    });
    radius = await FreeRadius.start({ secret: SECRET, netns: rig.ns, debug: false, requireMessageAuthenticator: true, users: [{ name: 'DEFAULT', password: 'pw' }] });
    writeFileSync(join(rig.dir, 'router.json'), config(rig.node, acc, core, o.subscribers, radius));
    await rig.start(120_000);
    const socket = rig.daemon!.socket;
    const token = rig.token();
    const agent = new Agent({ keepAlive: true, maxSockets: o.concurrency });
    o.log(`sessions: ${o.subscribers} subscribers, ${o.concurrency} clients`);

    const ids: string[] = new Array(o.subscribers);
    const daemonPid = rig.daemon!.proc.pid!;
    const cpu0 = [cpuMs(daemonPid), cpuMs(radius.pid!)];
    const t0 = performance.now();
    const openFailed = await pool(o.subscribers, o.concurrency, async (i) => {
      const r = await http(socket, 'POST', '/v1/sessions', { subscriber: `s${i}` }, token, agent);
      if (r.status !== 201) return false;
      ids[i] = (JSON.parse(r.text) as { session: { id: string } }).session.id;
      return true;
    });
    const openSeconds = (performance.now() - t0) / 1000;
    const opened = o.subscribers - openFailed;
    const daemonCpu = (cpuMs(daemonPid) - cpu0[0]!) / Math.max(1, opened);
    const radiusCpu = (cpuMs(radius.pid!) - cpu0[1]!) / Math.max(1, opened);
    o.log(`sessions: ${o.subscribers - openFailed} opened in ${openSeconds.toFixed(2)} s`);
    let drained = NaN;
    for (let k = 0; k < 600; k++) {
      const m = await http(socket, 'GET', '/metrics');
      const line = /^fecflow_radius_accounting_pending (\d+)/m.exec(m.text);
      if (line && Number(line[1]) === 0) {
        drained = (performance.now() - t0) / 1000;
        break;
      }
      await sleep(100);
    }
    agent.destroy(); // its sockets idled past the daemon's keep-alive while the outbox drained
    const closer = new Agent({ keepAlive: true, maxSockets: o.concurrency });
    const t1 = performance.now();
    const closeFailed = await pool(o.subscribers, o.concurrency, async (i) => {
      if (!ids[i]) return false;
      const r = await http(socket, 'POST', `/v1/sessions/${ids[i]}/close`, {}, token, closer);
      return r.status === 200;
    });
    const closeSeconds = (performance.now() - t1) / 1000;
    closer.destroy();
    return {
      subscribers: o.subscribers,
      concurrency: o.concurrency,
      opens: { seconds: round(openSeconds), perSecond: Math.round(opened / openSeconds), failed: openFailed, daemonCpuMsPerOpen: round(daemonCpu), radiusCpuMsPerOpen: round(radiusCpu) },
      startsAnsweredSeconds: round(drained),
      closes: { seconds: round(closeSeconds), perSecond: Math.round((o.subscribers - closeFailed) / closeSeconds), failed: closeFailed },
    };
  } finally {
    await radius?.close();
    await rig.cleanup();
  }
}

const round = (x: number): number => Math.round(x * 1000) / 1000;

/** CPU time (user + system) a process has used, in ms (from /proc; clock ticks of 10 ms). */
function cpuMs(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

