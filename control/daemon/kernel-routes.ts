// The routing view LDP needs: which next hop the node's kernel uses towards a FEC, and the MAC
// it resolved a next hop to. LDP follows the routing table (here, the kernel's, whatever fills
// it: static routes, an IGP daemon); this reads it with `ip -j` every few seconds and says when
// it changed, so the speaker re-resolves its FECs.
import { execFile } from 'node:child_process';
import { parsePrefix, type ParsedPrefix } from '../config/addr.js';
import { maskBytes } from '../config/addr.js';

interface Route {
  net: ParsedPrefix;
  gateway?: string;
}

interface RawRoute {
  dst?: string;
  gateway?: string;
  type?: string;
}

interface RawNeigh {
  dst?: string;
  lladdr?: string;
}

function ipJson<T>(args: string[]): Promise<T[]> {
  return new Promise((resolve, reject) => {
    execFile('ip', ['-j', ...args], { timeout: 5000, maxBuffer: 16 << 20 }, (err, stdout) => {
      if (err) return reject(err);
      try {
        const v = JSON.parse(stdout || '[]') as unknown;
        resolve(Array.isArray(v) ? (v as T[]) : []);
      } catch (e) {
        reject(e);
      }
    });
  });
}

/** Parses `ip -j -4 route show` output into prefixes with their gateway (unicast routes only). */
export function parseRoutes(rows: RawRoute[]): Route[] {
  const out: Route[] = [];
  for (const r of rows) {
    if (r.type !== undefined && r.type !== 'unicast') continue;
    const dst = r.dst === 'default' ? '0.0.0.0/0' : r.dst;
    if (!dst) continue;
    const p = parsePrefix(dst);
    if (!p.ok) continue;
    out.push(r.gateway ? { net: p.value, gateway: r.gateway } : { net: p.value });
  }
  return out;
}

/** The gateway of the longest route covering a prefix; undefined when the covering route is
 * on-link (no gateway: this node is on the FEC's network) or there is none. */
export function gatewayFor(routes: readonly Route[], prefix: string): string | undefined {
  const p = parsePrefix(prefix);
  if (!p.ok) return undefined;
  let best: Route | undefined;
  for (const r of routes) {
    if (r.net.family !== p.value.family || r.net.len > p.value.len) continue;
    const m = maskBytes(p.value.bytes, r.net.len);
    if (!m.every((b, k) => b === r.net.bytes[k])) continue;
    if (!best || r.net.len > best.net.len) best = r;
  }
  return best?.gateway;
}

export class KernelRoutes {
  private routes: Route[] = [];
  private macs = new Map<string, string>();
  private text = '';
  private timer?: ReturnType<typeof setInterval>;

  /** Reads the table now; true when it differs from the last read. */
  async refresh(): Promise<boolean> {
    const [rows, neigh] = await Promise.all([ipJson<RawRoute>(['-4', 'route', 'show']), ipJson<RawNeigh>(['-4', 'neigh', 'show'])]);
    this.macs = new Map(neigh.filter((n) => n.dst && n.lladdr).map((n) => [n.dst!, n.lladdr!.toLowerCase()]));
    const text = JSON.stringify(rows.map((r) => [r.dst, r.gateway, r.type]));
    if (text === this.text) return false;
    this.text = text;
    this.routes = parseRoutes(rows);
    return true;
  }

  /** Re-reads every intervalMs and calls onChange when the routes changed. */
  watch(intervalMs: number, onChange: () => void, onError: (e: Error) => void): void {
    this.timer = setInterval(() => {
      this.refresh().then((changed) => changed && onChange(), onError);
    }, intervalMs);
    this.timer.unref?.();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  nextHop(prefix: string): string | undefined {
    return gatewayFor(this.routes, prefix);
  }

  mac(address: string): string | undefined {
    return this.macs.get(address);
  }
}
