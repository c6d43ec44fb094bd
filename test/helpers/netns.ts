// Network namespaces and veth pairs for root tests, built with `ip`. Names are unique per run
// (uniqueName), and Lab.cleanup() removes everything it created without ever throwing, so it is
// safe in afterAll/finally even after a failure halfway through setup.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';

/** Runs a command, returning stdout; a failure throws with the command and its stderr. */
export function sh(cmd: string, args: readonly string[], opts: { input?: string; timeoutMs?: number } = {}): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', input: opts.input, timeout: opts.timeoutMs ?? 30_000, stdio: ['pipe', 'pipe', 'pipe'] });
  } catch (e) {
    const err = e as Error & { stderr?: string; stdout?: string; status?: number };
    throw new Error(`${cmd} ${args.join(' ')} failed (status ${err.status ?? '?'}): ${(err.stderr || err.stdout || err.message).trim()}`);
  }
}

/**
 * A name unique to this process and call: prefix + pid + random, at most 15 characters so it is
 * also valid for an interface (IFNAMSIZ).
 */
export function uniqueName(prefix = 'ff'): string {
  const name = `${prefix}${process.pid.toString(36)}${randomBytes(3).toString('hex')}`;
  if (name.length > 15) return name.slice(0, 15);
  return name;
}

export interface NetnsOptions {
  /** false turns IPv6 off in the namespace (no router solicitations or ND noise in counters). */
  ipv6?: boolean;
}

/** Creates a network namespace with its loopback up. */
export function createNetns(name: string, opts: NetnsOptions = {}): void {
  sh('ip', ['netns', 'add', name]);
  sh('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
  if (opts.ipv6 === false) {
    inNetns(name, 'sysctl', ['-q', '-w', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
  }
}

/** Deletes a network namespace (and the interfaces in it); never throws. */
export function deleteNetns(name: string): void {
  try {
    execFileSync('ip', ['netns', 'delete', name], { stdio: 'ignore' });
  } catch {
    // already gone
  }
}

/** Deletes an interface in a namespace (or the host when ns is null); never throws. */
export function deleteLink(name: string, ns: string | null = null): void {
  try {
    execFileSync('ip', [...(ns ? ['-n', ns] : []), 'link', 'delete', name], { stdio: 'ignore' });
  } catch {
    // already gone
  }
}

/** Runs a command inside a namespace (`ip netns exec`, which remounts /sys: no bpffs there). */
export function inNetns(ns: string, cmd: string, args: readonly string[] = [], opts?: { input?: string; timeoutMs?: number }): string {
  return sh('ip', ['netns', 'exec', ns, cmd, ...args], opts);
}

/** Runs a command inside a namespace keeping the host's mounts (bpffs included). */
export function nsenter(ns: string, cmd: string, args: readonly string[] = [], opts?: { input?: string; timeoutMs?: number }): string {
  return sh('nsenter', [`--net=/run/netns/${ns}`, cmd, ...args], opts);
}

export interface VethOptions {
  /** Address with prefix for side a, e.g. '10.1.0.1/24' (IPv4 or IPv6). */
  addrA?: string;
  addrB?: string;
  /** MAC addresses of the two sides. */
  macA?: string;
  macB?: string;
  mtu?: number;
}

/**
 * Creates a veth pair a (in nsA) — b (in nsB); null means the host namespace. Both ends are up,
 * with the given addresses. IPv6 duplicate address detection is off so addresses work at once.
 */
export function vethPair(a: string, nsA: string | null, b: string, nsB: string | null, opts: VethOptions = {}): void {
  sh('ip', ['link', 'add', a, ...(nsA ? ['netns', nsA] : []), 'type', 'veth', 'peer', 'name', b, ...(nsB ? ['netns', nsB] : [])]);
  const side = (name: string, ns: string | null, addr?: string, mac?: string) => {
    const n = ns ? ['-n', ns] : [];
    if (mac) sh('ip', [...n, 'link', 'set', name, 'address', mac]);
    if (opts.mtu) sh('ip', [...n, 'link', 'set', name, 'mtu', String(opts.mtu)]);
    if (addr) sh('ip', [...n, 'addr', 'add', addr, 'dev', name, ...(addr.includes(':') ? ['nodad'] : [])]);
    sh('ip', [...n, 'link', 'set', name, 'up']);
  };
  side(a, nsA, opts.addrA, opts.macA);
  side(b, nsB, opts.addrB, opts.macB);
}

/** MAC address of an interface. */
export function macOf(name: string, ns: string | null = null): string {
  const out = sh('ip', [...(ns ? ['-n', ns] : []), '-j', 'link', 'show', 'dev', name]);
  return (JSON.parse(out) as Array<{ address: string }>)[0]!.address;
}

/** Pings from inside ns; returns true if every reply came back. */
export function ping(ns: string, address: string, count = 3, opts: { intervalS?: number; timeoutS?: number } = {}): boolean {
  try {
    inNetns(ns, 'ping', ['-c', String(count), '-i', String(opts.intervalS ?? 0.2), '-W', String(opts.timeoutS ?? 1), '-q', address]);
    return true;
  } catch {
    return false;
  }
}

/**
 * Tracks namespaces and host interfaces made through it and removes them in cleanup(), which
 * never throws. Use one per suite: `const lab = new Lab(); afterAll(() => lab.cleanup());`
 */
export class Lab {
  readonly namespaces: string[] = [];
  readonly hostLinks: string[] = [];

  /** Creates a uniquely named namespace and returns its name. */
  netns(prefix = 'ffn', opts: NetnsOptions = {}): string {
    const name = uniqueName(prefix);
    this.namespaces.push(name);
    createNetns(name, opts);
    return name;
  }

  /** Creates a veth pair with unique names; returns [nameA, nameB]. */
  veth(nsA: string | null, nsB: string | null, opts: VethOptions = {}, prefix = 'ffv'): [string, string] {
    const a = uniqueName(prefix);
    const b = uniqueName(prefix);
    if (!nsA) this.hostLinks.push(a);
    if (!nsB) this.hostLinks.push(b);
    vethPair(a, nsA, b, nsB, opts);
    return [a, b];
  }

  cleanup(): void {
    for (const l of this.hostLinks.splice(0)) deleteLink(l);
    for (const ns of this.namespaces.splice(0)) deleteNetns(ns);
  }
}
