// The data plane as the daemon drives it, over control/bpf. Layout of one node's pins:
//   <pinRoot>/<node>/maps/<map>       every map of the object (reused across restarts)
//   <pinRoot>/<node>/links/<device>   the XDP bpf_link of each interface
// A restarted daemon (clean stop or kill -9) opens the object with the pinned maps, then for
// each interface reopens the pinned link: the program stays attached the whole time, and is
// swapped atomically (bpf_link_update) only if the new object's program differs (tag) or the
// interface's role changed.
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../log.js';
import { BpfError, BpfObject, Program, XdpLink, ensureBpffs, ifindexOf, type BpfMap } from '../bpf/index.js';
import type { MapIO } from '../reconcile/index.js';
import { ensureHashKey } from '../reconcile/hashkey.js';
import { readDropStats, readIspStats, readLabelStats } from './counters.js';
import { detachLinkPin, nodePinDirs, removeNodeDirs } from './offline.js';
import type { AttachedProgram, CounterReader, Dataplane, InterfaceRole, Role } from './ports.js';

export const PROGRAM_OF: Record<Role, string> = { access: 'xdp_access', core: 'xdp_core', isp: 'xdp_isp' };

const COUNTER_MAPS = new Set(['isp_stats', 'label_stats', 'drop_stats']);
/** Maps the node keeps for itself (written once at start), which the reconciler never sees. */
const STATE_MAPS = new Set(['hash_key']);

export interface BpfDataplaneOptions {
  objectPath: string;
  /** e.g. /sys/fs/bpf/fecflow */
  pinRoot: string;
  node: string;
  log: Logger;
  /** 'auto' (native, else generic) unless a test forces one */
  xdpMode?: 'auto' | 'native' | 'generic';
}

interface Attached extends AttachedProgram {
  link: XdpLink;
}

export class BpfDataplane implements Dataplane {
  readonly nodeDir: string;
  readonly mapDir: string;
  readonly linkDir: string;
  private obj: BpfObject;
  private attached = new Map<string, Attached>();
  private readonly log: Logger;

  private constructor(private readonly opts: BpfDataplaneOptions, obj: BpfObject) {
    this.obj = obj;
    this.nodeDir = join(opts.pinRoot, opts.node);
    const dirs = nodePinDirs(this.nodeDir);
    this.mapDir = dirs.maps;
    this.linkDir = dirs.links;
    this.log = opts.log.child({ part: 'dataplane' });
  }

  /** Load the object, reusing the node's pinned maps when they exist. */
  static open(opts: BpfDataplaneOptions): BpfDataplane {
    ensureBpffs(bpffsRoot(opts.pinRoot));
    const nodeDir = join(opts.pinRoot, opts.node);
    const dirs = nodePinDirs(nodeDir);
    mkdirSync(dirs.links, { recursive: true });
    const obj = BpfObject.open(opts.objectPath, { pinDir: dirs.maps, reusePinnedMaps: true });
    const dp = new BpfDataplane(opts, obj);
    dp.log.info({ object: opts.objectPath, pins: nodeDir, reusedMaps: obj.reusedMaps.length }, obj.reusedMaps.length ? 'reusing pinned maps' : 'created and pinned maps');
    // the ECMP key: kept from the pinned map, or chosen now (FORWARDING.md, ECMP)
    const hk = ensureHashKey(obj.map('hash_key'));
    dp.log.info({ created: hk.created }, hk.created ? 'chose a new ECMP hash key' : 'kept the pinned ECMP hash key');
    return dp;
  }

  map(name: string): BpfMap {
    return this.obj.map(name);
  }

  /** The configuration maps, as the reconciler writes them. */
  configMaps(): MapIO[] {
    return this.obj
      .maps()
      .filter((m) => !COUNTER_MAPS.has(m.name) && !STATE_MAPS.has(m.name) && !m.name.startsWith('.') && !m.name.includes('.'))
      .map((m) => mapIO(m));
  }

  async sync(interfaces: InterfaceRole[]): Promise<AttachedProgram[]> {
    const want = new Map(interfaces.map((i) => [i.ifname, i.role]));
    // Detach interfaces no longer configured (also pins left by an earlier run).
    for (const dev of this.pinnedLinks()) {
      if (want.has(dev)) continue;
      this.detachOne(dev);
    }
    for (const [dev, role] of want) {
      const cur = this.attached.get(dev);
      const prog = this.obj.program(PROGRAM_OF[role]);
      const progInfo = prog.info();
      if (cur && cur.role === role && cur.tag === progInfo.tag && this.linkAlive(cur)) continue;
      if (cur) {
        cur.link.close();
        this.attached.delete(dev);
      }
      this.attached.set(dev, this.attachOne(dev, role, prog));
    }
    return this.programs();
  }

  private linkAlive(a: Attached): boolean {
    try {
      const i = a.link.info();
      return i.ifindex !== 0;
    } catch {
      return false;
    }
  }

  private attachOne(dev: string, role: Role, prog: Program): Attached {
    const pin = join(this.linkDir, dev);
    const want = prog.info();
    const ifindex = ifindexOf(dev);
    if (existsSync(pin)) {
      let link: XdpLink | undefined;
      try {
        link = XdpLink.fromPin(pin);
        const li = link.info();
        if (li.ifindex !== ifindex) throw new Error(`pinned link is on ifindex ${li.ifindex}, ${dev} is ${ifindex} now (device recreated)`);
        const old = Program.fromId(li.progId);
        let oldInfo;
        try {
          oldInfo = old.info();
        } finally {
          old.close();
        }
        if (oldInfo.tag === want.tag && oldInfo.name === want.name) {
          this.log.info({ ifname: dev, role, mode: link.mode, progId: li.progId, tag: oldInfo.tag }, 'kept the pinned XDP link: program unchanged');
          return { ifname: dev, role, mode: link.mode, progId: li.progId, tag: oldInfo.tag, reused: true, link };
        }
        link.update(prog);
        this.log.info({ ifname: dev, role, mode: link.mode, from: li.progId, to: want.id }, 'updated the pinned XDP link to the new program (atomic replace)');
        return { ifname: dev, role, mode: link.mode, progId: want.id, tag: want.tag, reused: true, link };
      } catch (err) {
        // A link whose device went away cannot be reused: drop the pin and attach afresh.
        this.log.warn({ ifname: dev, err: String(err) }, 'pinned XDP link unusable; attaching a new one');
        detachLinkPin(pin, link);
      }
    }
    const link = prog.attachXdp(dev, { mode: this.opts.xdpMode ?? 'auto', via: 'link' });
    link.pin(pin);
    this.log.info({ ifname: dev, role, mode: link.mode, progId: want.id, tag: want.tag }, `attached ${PROGRAM_OF[role]} in ${link.mode} mode`);
    return { ifname: dev, role, mode: link.mode, progId: want.id, tag: want.tag, reused: false, link };
  }

  private pinnedLinks(): string[] {
    try {
      return readdirSync(this.linkDir);
    } catch {
      return [];
    }
  }

  private detachOne(dev: string): void {
    const a = this.attached.get(dev);
    this.attached.delete(dev);
    const problem = detachLinkPin(join(this.linkDir, dev), a?.link);
    if (problem === undefined) this.log.info({ ifname: dev }, 'detached');
    else this.log.warn({ ifname: dev, err: problem }, 'detach failed; removed the pin');
  }

  programs(): AttachedProgram[] {
    return [...this.attached.values()].map(({ link: _l, ...p }) => p);
  }

  roleInfo(): Array<{ role: Role; id: number; tag: string }> {
    const seen = new Map<string, { role: Role; id: number; tag: string }>();
    for (const p of this.attached.values()) seen.set(`${p.role}/${p.progId}`, { role: p.role, id: p.progId, tag: p.tag });
    return [...seen.values()].sort((a, b) => a.role.localeCompare(b.role) || a.id - b.id);
  }

  counters(): CounterReader {
    return {
      ispStats: () => readIspStats(this.obj.map('isp_stats')),
      labelStats: () => readLabelStats(this.obj.map('label_stats')),
      dropStats: () => readDropStats(this.obj.map('drop_stats')),
    };
  }

  async detach(): Promise<void> {
    for (const dev of new Set([...this.attached.keys(), ...this.pinnedLinks()])) this.detachOne(dev);
    this.obj.unpinMaps();
    this.obj.close();
    removeNodeDirs(this.nodeDir);
  }

  close(): void {
    for (const a of this.attached.values()) a.link.close(); // pinned: stays attached
    this.attached.clear();
    this.obj.close();
  }
}

/** The bpffs mount point a pin root lives on (/sys/fs/bpf for /sys/fs/bpf/fecflow). */
function bpffsRoot(pinRoot: string): string {
  return pinRoot.startsWith('/sys/fs/bpf') ? '/sys/fs/bpf' : pinRoot;
}

export function mapIO(m: BpfMap): MapIO {
  return {
    name: m.name,
    kind: m.typeName.includes('array') ? 'array' : 'hash',
    valueSize: m.perCpu ? m.valueBufferSize : m.valueSize,
    entries: () => m.entries(),
    setMany: (e) => m.setMany(e),
    deleteMany: (k) => m.deleteMany(k),
  };
}
