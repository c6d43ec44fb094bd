// The host's interfaces as the compiler needs them (device name -> ifindex and MAC), read in
// the daemon's own network namespace. `ip -j link` is used rather than /sys/class/net, because
// a daemon started with `nsenter --net` keeps the host's /sys, which shows the host's devices.
import { execFileSync } from 'node:child_process';
import type { CompileEnv, InterfaceInfo } from '../compile/index.js';

export interface LinkInfo extends InterfaceInfo {
  name: string;
  mtu: number;
}

export function listLinks(): LinkInfo[] {
  const out = execFileSync('ip', ['-j', 'link', 'show'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 });
  const rows = JSON.parse(out) as Array<{ ifindex: number; ifname: string; address?: string; mtu: number }>;
  return rows.map((r) => ({ name: r.ifname, ifindex: r.ifindex, mac: (r.address ?? '00:00:00:00:00:00').toLowerCase(), mtu: r.mtu }));
}

/** A compile environment from the links present now, plus the reverse map for display. */
export class HostEnv implements CompileEnv {
  private byName = new Map<string, LinkInfo>();
  private byIndex = new Map<number, string>();

  constructor(private readonly lister: () => LinkInfo[] = listLinks) {}

  refresh(): this {
    const links = this.lister();
    this.byName = new Map(links.map((l) => [l.name, l]));
    this.byIndex = new Map(links.map((l) => [l.ifindex, l.name]));
    return this;
  }

  resolve(device: string): InterfaceInfo | undefined {
    const l = this.byName.get(device);
    return l ? { ifindex: l.ifindex, mac: l.mac } : undefined;
  }

  ifname(ifindex: number): string {
    return this.byIndex.get(ifindex) ?? `#${ifindex}`;
  }
}
