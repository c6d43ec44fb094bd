// The data plane as the daemon drives it, over control/bpf. Layout of one node's pins:
//   <pinRoot>/<node>/maps/<map>       every map of the object (reused across restarts)
//   <pinRoot>/<node>/links/<device>   the XDP bpf_link of each interface
// A restarted daemon (clean stop or kill -9) opens the object with the pinned maps, then for
// each interface reopens the pinned link: the program stays attached the whole time, and is
// swapped atomically (bpf_link_update) only if the new object's program differs (tag) or the
// interface's role changed. When the new object's map layouts differ from the pinned ones, the
// upgrade goes through ./migrate.ts: new maps beside the old, filled, then the switch.
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../log.js';
import { BpfError, BpfMap, BpfObject, Program, XdpLink, ensureBpffs, ifindexOf } from '../bpf/index.js';
import type { MapIO } from '../reconcile/index.js';
import { ensureHashKey } from '../reconcile/hashkey.js';
import { readDropStats, readIcmpStats, readIspStats, readLabelStats } from './counters.js';
import { detachLinkPin, nodePinDirs, removeNodeDirs } from './offline.js';
import { CARRIED, COUNTER_MAPS, MigrationRefused, clearCarried, clearStaging, dropCarried, keepCarried, planMigration, refusals, repin, stage, type MigrationPlan } from './migrate.js';
import type { AttachedProgram, CounterReader, Dataplane, InterfaceRole, Role } from './ports.js';

/** The per-subscriber counters: the data plane's, read by the meter (./meter.ts), never
 * reconciled (the reconciler would read two million entries at every start). */
const METER_MAPS = new Set(['sub_stats']);

export const PROGRAM_OF: Record<Role, string> = { access: 'xdp_access', core: 'xdp_core', isp: 'xdp_isp' };

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
  /** The ECMP key: kept from the pinned map, or chosen now (FORWARDING.md, ECMP). */
  private ensureHashKey(): void {
    const hk = ensureHashKey(this.obj.map('hash_key'));
    this.log.info({ created: hk.created }, hk.created ? 'chose a new ECMP hash key' : 'kept the pinned ECMP hash key');
  }

  readonly nodeDir: string;
  readonly mapDir: string;
  readonly linkDir: string;
  private obj: BpfObject;
  private attached = new Map<string, Attached>();
  private readonly log: Logger;
  /** Set while an upgrade across a layout change waits for the tables to be filled. */
  private migration: MigrationPlan | undefined;
  /** Counter maps of the layout before the last layout change(s), frozen, added in when read. */
  private carried = new Map<string, BpfMap>();

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
    const plan = planMigration(opts.objectPath, dirs.maps);
    if (!plan) {
      clearStaging(nodeDir); // a migration that was interrupted after its switch
      const obj = BpfObject.open(opts.objectPath, { pinDir: dirs.maps, reusePinnedMaps: true });
      const dp = new BpfDataplane(opts, obj);
      dp.log.info({ object: opts.objectPath, pins: nodeDir, reusedMaps: obj.reusedMaps.length }, obj.reusedMaps.length ? 'reusing pinned maps' : 'created and pinned maps');
      dp.loadCarried();
      dp.ensureHashKey();
      return dp;
    }
    const problems = refusals(dirs.links);
    if (problems.length) throw new MigrationRefused(problems);
    const staging = stage(dirs.maps, nodeDir, plan);
    let obj: BpfObject;
    try {
      obj = BpfObject.open(opts.objectPath, { pinDir: staging, reusePinnedMaps: true });
    } catch (err) {
      clearStaging(nodeDir);
      throw err;
    }
    const dp = new BpfDataplane(opts, obj);
    dp.migration = plan;
    dp.loadCarried();
    dp.log.warn(
      { object: opts.objectPath, pins: nodeDir, changed: plan.changes.map((c) => `${c.name} (${c.differences.join(', ')})`), reusedMaps: obj.reusedMaps.length },
      'map layout changed: created the new maps beside the pinned ones; the programs switch once the tables are filled',
    );
    dp.ensureHashKey();
    return dp;
  }

  /** True while an upgrade across a layout change waits for completeMigration(). */
  get migrating(): boolean {
    return this.migration !== undefined;
  }

  /**
   * The end of an upgrade across a layout change, once the daemon has reconciled its state into
   * the new maps: moves every interface to the new program (bpf_link_update, atomic), carries
   * the counters over, and makes maps/ name the new maps. A no-op when not migrating.
   */
  async completeMigration(): Promise<void> {
    const plan = this.migration;
    if (!plan) return;
    const t0 = performance.now();
    for (const [dev, a] of this.attached) {
      const prog = this.obj.program(PROGRAM_OF[a.role]);
      const info = prog.info();
      if (a.progId === info.id) continue; // attached by this daemon: already the new program
      a.link.update(prog);
      this.log.info({ ifname: dev, role: a.role, from: a.progId, to: info.id }, 'moved the interface to the new program and maps (atomic replace)');
      this.attached.set(dev, { ...a, progId: info.id, tag: info.tag });
    }
    // An XDP program runs for microseconds; let runs that began on the old one end before its
    // counters are read.
    await new Promise((r) => setTimeout(r, 50));
    for (const name of plan.carry) {
      const entries = keepCarried(name, this.mapDir, this.nodeDir);
      this.log.info({ map: name, entries }, 'counters carried over: the old map is kept and added in when counters are read');
    }
    for (const r of plan.reset) {
      dropCarried(r.name, this.nodeDir);
      this.log.warn({ map: r.name, why: r.why }, 'counters restart from zero: the old values cannot be carried over');
    }
    repin(this.obj.maps(), this.mapDir, this.nodeDir);
    this.loadCarried();
    this.migration = undefined;
    this.log.info({ ms: Math.round(performance.now() - t0), changed: plan.changes.map((c) => c.name) }, 'upgraded across the map-layout change without detaching');
  }

  map(name: string): BpfMap {
    return this.obj.map(name);
  }

  /** The configuration maps, as the reconciler writes them. */
  configMaps(): MapIO[] {
    return this.obj
      .maps()
      .filter((m) => !COUNTER_MAPS.has(m.name) && !STATE_MAPS.has(m.name) && !METER_MAPS.has(m.name) && !m.name.startsWith('.') && !m.name.includes('.'))
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
      // Kept on the old program for the migration: completeMigration() moves it.
      if (this.migration && cur && cur.role === role && cur.progId !== progInfo.id && this.linkAlive(cur)) continue;
      if (this.migration && !cur) {
        // Until the new maps are filled, a pinned link stays on the old program and old maps.
        const kept = this.keepPinned(dev, role);
        if (kept) {
          this.attached.set(dev, kept);
          continue;
        }
      }
      if (cur) {
        cur.link.close();
        this.attached.delete(dev);
      }
      this.attached.set(dev, this.attachOne(dev, role, prog));
    }
    return this.programs();
  }

  /** (Re)opens the carried counter maps that fit the live ones (same key and value layout). */
  private loadCarried(): void {
    this.closeCarried();
    for (const name of COUNTER_MAPS) {
      const pin = join(this.nodeDir, CARRIED, name);
      if (!existsSync(pin)) continue;
      const c = BpfMap.fromPin(pin);
      const live = this.obj.map(name);
      if (c.keySize === live.keySize && c.valueBufferSize === live.valueBufferSize) this.carried.set(name, c);
      else {
        c.close();
        this.log.warn({ map: name, pin }, 'carried counters do not fit the map any more; not added');
      }
    }
  }

  private closeCarried(): void {
    for (const c of this.carried.values()) c.close();
    this.carried.clear();
  }

  /**
   * Rows of a counter map with its carried values added: every key of an array map, only the
   * keys still in a hash map (a label gone from the ILM takes its count with it).
   */
  private withCarried<R extends { packets: bigint; bytes: bigint }>(name: string, read: (m: BpfMap) => R[], key: (r: R) => string): R[] {
    const live = read(this.obj.map(name));
    const c = this.carried.get(name);
    if (!c) return live;
    const extra = new Map(read(c).map((r) => [key(r), r]));
    const out = live.map((r) => {
      const e = extra.get(key(r));
      extra.delete(key(r));
      return e ? { ...r, packets: r.packets + e.packets, bytes: r.bytes + e.bytes } : r;
    });
    if (!c.typeName.includes('hash')) out.push(...extra.values());
    return out;
  }

  private linkAlive(a: Attached): boolean {
    try {
      const i = a.link.info();
      return i.ifindex !== 0;
    } catch {
      return false;
    }
  }

  /**
   * Reopens the link pinned for dev with the program it runs; throws when the device was
   * recreated since (the link is then closed).
   */
  private openPinnedLink(dev: string, pin: string, ifindex: number): { link: XdpLink; progId: number; prog: { name: string; tag: string } } {
    const link = XdpLink.fromPin(pin);
    try {
      const li = link.info();
      if (li.ifindex !== ifindex) throw new Error(`pinned link is on ifindex ${li.ifindex}, ${dev} is ${ifindex} now (device recreated)`);
      const old = Program.fromId(li.progId);
      try {
        const { name, tag } = old.info();
        return { link, progId: li.progId, prog: { name, tag } };
      } finally {
        old.close();
      }
    } catch (err) {
      link.close();
      throw err;
    }
  }

  /** The pinned link of dev, reopened as it is (during a migration), if it is alive and has this role's program. */
  private keepPinned(dev: string, role: Role): Attached | undefined {
    const pin = join(this.linkDir, dev);
    if (!existsSync(pin)) return undefined;
    try {
      const { link, progId, prog } = this.openPinnedLink(dev, pin, ifindexOf(dev));
      if (prog.name !== PROGRAM_OF[role]) {
        link.close();
        throw new Error(`runs ${prog.name}, the role wants ${PROGRAM_OF[role]}`);
      }
      this.log.info({ ifname: dev, role, progId }, 'kept the pinned XDP link on the old program until the new maps are filled');
      return { ifname: dev, role, mode: link.mode, progId, tag: prog.tag, reused: true, link };
    } catch (err) {
      this.log.warn({ ifname: dev, err: String(err) }, 'pinned XDP link not kept for the migration; it is replaced now');
      return undefined;
    }
  }

  private attachOne(dev: string, role: Role, prog: Program): Attached {
    const pin = join(this.linkDir, dev);
    const want = prog.info();
    const ifindex = ifindexOf(dev); // a missing device fails here, before any pin is touched
    if (existsSync(pin)) {
      let link: XdpLink | undefined;
      try {
        const pinned = this.openPinnedLink(dev, pin, ifindex);
        link = pinned.link;
        if (pinned.prog.tag === want.tag && pinned.prog.name === want.name) {
          this.log.info({ ifname: dev, role, mode: link.mode, progId: pinned.progId, tag: pinned.prog.tag }, 'kept the pinned XDP link: program unchanged');
          return { ifname: dev, role, mode: link.mode, progId: pinned.progId, tag: pinned.prog.tag, reused: true, link };
        }
        link.update(prog);
        this.log.info({ ifname: dev, role, mode: link.mode, from: pinned.progId, to: want.id }, 'updated the pinned XDP link to the new program (atomic replace)');
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
      ispStats: () => this.withCarried('isp_stats', readIspStats, (r) => `${r.isp}/${r.direction}/${r.point}`),
      labelStats: () => this.withCarried('label_stats', readLabelStats, (r) => String(r.label)),
      dropStats: () => this.withCarried('drop_stats', readDropStats, (r) => r.reason),
      icmpStats: () => this.withCarried('icmp_stats', readIcmpStats, (r) => `${r.kind}/${r.outcome}`),
    };
  }

  async detach(): Promise<void> {
    for (const dev of new Set([...this.attached.keys(), ...this.pinnedLinks()])) this.detachOne(dev);
    this.obj.unpinMaps();
    this.obj.close();
    this.closeCarried();
    clearCarried(this.nodeDir);
    clearStaging(this.nodeDir);
    for (const name of this.migration ? readdirSync(this.mapDir) : []) rmSync(join(this.mapDir, name), { force: true }); // the old layout's pins
    removeNodeDirs(this.nodeDir);
  }

  close(): void {
    for (const a of this.attached.values()) a.link.close(); // pinned: stays attached
    this.attached.clear();
    this.closeCarried();
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
