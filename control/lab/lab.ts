// `fecflow lab up | down | status`: a whole open-access network on one machine. Namespaces and
// veths make the hosts and routers (./topology.ts), one `fecflow serve` per router runs in its
// router's network namespace (nsenter --net: the host's mounts, so bpffs stays visible) with
// its own pin folder, Unix socket and management address, and the state file records every
// PID so `down` undoes it all — also after a crash.
import { spawn } from 'node:child_process';
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { repoRoot } from '../bpf/native.js';
import { routerApi, type RouterApi } from './api.js';
import { attachHostProgram, buildHostProgram, buildVlanProgram, readSourceCounts, type SourceCount } from './hosts.js';
import { planOf, routerConfigText, routerDocument, type LinkOptions, type PlanState } from './plan.js';
import { frrVtysh, startFrr, stopFrr } from './frr.js';
import { readState, writeState, type DaemonRecord, type LabState } from './state.js';
import { LabError, ip, netnsExists, nsRun, processAlive, processStartTime, run, sleep, stopProcess, tryRun } from './sys.js';
import {
  API_PORT,
  CORE_LEN,
  CORE_LINKS,
  CORE_MTU,
  ACCESS_MTU,
  FRR_NS,
  LDP_PLAN,
  ldpFecs,
  INTERNET,
  ISP_PLAN,
  LAB_NAME_RE,
  STATE_ROOT,
  ISPS,
  MAX_SLOTS,
  ROUTERS,
  USER_PLAN,
  USERS,
  labNames,
  mgmtAddresses,
  type IspName,
  type LabNames,
  type RouterName,
  type UserName,
} from './topology.js';

export type Say = (line: string) => void;
const quiet: Say = () => {};

/** The features that make a veth put VLAN tags in the frame rather than in metadata the XDP
 * program on the peer end cannot see. */
const VLAN_OFFLOAD_OFF = ['tx-vlan-hw-insert=off', 'tx-vlan-stag-hw-insert=off'];
/** A veth leaves UDP/TCP checksums to "offload" (CHECKSUM_PARTIAL metadata); an XDP redirect
 * drops that metadata and the frame arrives with a wrong checksum. A real NIC would fill the
 * checksum in; here the hosts whose traffic the routers forward compute it themselves. */
const CHECKSUM_OFFLOAD_OFF = ['tx-checksum-ip-generic=off'];

export interface UpOptions {
  name: string;
  say?: Say;
  /** log level of the daemons */
  logLevel?: string;
  /** the MTU of the tailend's links to the ISP hosts (68..1500; default 1500) */
  ispMtu?: number;
  /** labels learned by LDP instead of the static plan, and FRR as a fourth router */
  ldp?: boolean;
}

export interface RouterStatus {
  router: RouterName;
  namespace: string;
  pid: number | null;
  running: boolean;
  ready: boolean;
  socket: string | null;
  metrics: string | null;
  error?: string;
}

export interface LabStatus {
  name: string;
  up: boolean;
  namespaces: Array<{ name: string; present: boolean }>;
  routers: RouterStatus[];
  /** end-user -> ISP, from the headend's running config */
  subscribers: Array<{ name: string; isp: string }>;
  generation: number | null;
  /** labels learned by LDP (`lab up --ldp`) rather than a plan generation */
  ldp: boolean;
}

export class Lab {
  private constructor(
    readonly names: LabNames,
    private st: LabState,
  ) {}

  get name(): string {
    return this.names.name;
  }
  get state(): LabState {
    return this.st;
  }

  /** A running lab, from its state file. */
  static open(name: string): Lab {
    const names = labNames(name);
    const st = readState(names.stateDir);
    if (!st) throw new LabError(`no lab named '${name}' is up (no ${names.stateDir}/state.json); run \`fecflow lab up --name ${name}\``);
    return new Lab(names, st);
  }

  /** Builds the lab (tearing down any earlier one of the same name first) and starts its daemons. */
  static async up(o: UpOptions): Promise<Lab> {
    const say = o.say ?? quiet;
    const names = labNames(o.name);
    checkPrerequisites();
    if (readState(names.stateDir) || names.namespaces.some(netnsExists)) {
      say(`lab '${o.name}' exists (or crashed half way): tearing it down first`);
      await Lab.down(o.name);
    }
    const st: LabState = {
      version: 1,
      name: o.name,
      createdAt: new Date().toISOString(),
      slot: claimSlot(o.name),
      namespaces: names.namespaces,
      hostLinks: ROUTERS.map((r) => names.mgmtHostIf(r)),
      pinDir: names.pinDir,
      stateDir: names.stateDir,
      daemons: {},
      generation: 0,
      ...(o.ldp ? { ldp: true, namespaces: [...names.namespaces, names.ns(FRR_NS)] } : {}),
    };
    if (o.ispMtu !== undefined) {
      if (!Number.isInteger(o.ispMtu) || o.ispMtu < 68 || o.ispMtu > ACCESS_MTU) throw new Error(`lab: the ISP link MTU must be an integer from 68 to ${ACCESS_MTU}, not ${o.ispMtu}`);
      st.ispMtu = o.ispMtu;
    }
    // Recorded before anything exists, so that `down` finds all of it whatever happens next.
    writeState(st);
    const lab = new Lab(names, st);
    try {
      say(`building ${names.namespaces.length} network namespaces (${names.namespaces.join(', ')})`);
      lab.buildNetwork();
      if (o.ldp) lab.buildLdpNetwork();
      say('attaching the host XDP program (pass + count per source) on end-user, ISP and switch ports');
      const obj = buildHostProgram(names.stateDir);
      for (const u of USERS) attachHostProgram(obj, [{ ns: names.userNs(u), ifname: 'eth0' }], lab.hostPinDir(u));
      for (const i of ISPS) attachHostProgram(obj, [{ ns: names.ispNs(i), ifname: 'eth0' }], lab.hostPinDir(i));
      attachHostProgram(
        obj,
        CORE_LINKS.flatMap((l) => [l.a.port, l.b.port].map((ifname) => ({ ns: names.switchNs, ifname }))),
      );
      say(o.ldp ? 'writing router configs (labels learned by LDP) and starting one `fecflow serve` per router' : 'writing router configs (label plan generation 0) and starting one `fecflow serve` per router');
      for (const r of ROUTERS) lab.writeConfig(r, routerConfigText(r, planOf(0), undefined, { ...lab.links(), ldp: o.ldp === true }));
      await Promise.all(ROUTERS.map((r) => lab.startDaemon(r, { logLevel: o.logLevel })));
      if (o.ldp) {
        say('starting FRR (zebra, ldpd) as a fourth router beside the lsr');
        chmodSync(names.stateDir, 0o711);
        startFrr(names.ns(FRR_NS), join(names.stateDir, 'frr'), lab.frrPathspace);
        say('waiting for LDP: sessions up and a label for every ISP in both directions');
        await lab.waitLdp();
      }
      say('daemons ready; resolving gateways (ARP/ND) from every host');
      await lab.warmUp();
      return lab;
    } catch (err) {
      say(`lab up failed: ${(err as Error).message}; tearing down`);
      await Lab.down(o.name);
      throw err;
    }
  }

  /** Removes every namespace, link, pin and process the lab made. Never throws; works from the
   * state file, and from the names alone when there is none. */
  static async down(name: string, say: Say = quiet): Promise<{ stopped: number; namespaces: number }> {
    const names = labNames(name);
    const st = readState(names.stateDir);
    let stopped = 0;
    for (const d of Object.values(st?.daemons ?? {})) {
      if (!d) continue;
      if (processAlive(d.pid, d.startTime)) {
        say(`stopping ${d.router} daemon (pid ${d.pid})`);
        if (await stopProcess(d.pid, d.startTime, 5000)) stopped++;
      }
    }
    const frrNs = names.ns(FRR_NS);
    if (netnsExists(frrNs)) {
      const n = await stopFrr(frrNs, `${name}-${FRR_NS}`);
      if (n) say(`stopped FRR (${n} processes)`);
    }
    let namespaces = 0;
    for (const ns of new Set([...(st?.namespaces ?? []), ...names.namespaces, frrNs])) {
      if (!netnsExists(ns)) continue;
      if (tryRun('ip', ['netns', 'delete', ns])) namespaces++;
    }
    for (const l of new Set([...(st?.hostLinks ?? []), ...ROUTERS.map((r) => names.mgmtHostIf(r))])) tryRun('ip', ['link', 'delete', l]);
    // The daemons' pinned links and maps, and the hosts' counter maps.
    rmSync(st?.pinDir ?? names.pinDir, { recursive: true, force: true });
    rmSync(st?.stateDir ?? names.stateDir, { recursive: true, force: true });
    releaseSlots(name);
    if (namespaces) say(`removed ${namespaces} namespaces, the management links and ${names.pinDir}`);
    return { stopped, namespaces };
  }

  private save(): void {
    writeState(this.st);
  }

  private hostPinDir(host: UserName | IspName): string {
    return join(this.names.pinDir, 'hosts', host);
  }

  configPath(r: RouterName): string {
    return join(this.names.stateDir, 'configs', `${r}.yaml`);
  }

  private writeConfig(r: RouterName, text: string): void {
    mkdirSync(join(this.names.stateDir, 'configs'), { recursive: true });
    const path = this.configPath(r);
    const tmp = `${path}.tmp`;
    writeFileSync(tmp, text);
    run('mv', [tmp, path]);
  }

  // ---- the network ----

  /** The link options the lab was built with (they stay in every config it writes). */
  private links(): LinkOptions {
    return this.state.ispMtu === undefined ? {} : { ispMtu: this.state.ispMtu };
  }

  private buildNetwork(): void {
    const n = this.names;
    for (const ns of n.namespaces) {
      ip(null, 'netns', 'add', ns);
      ip(ns, 'link', 'set', 'lo', 'up');
      // Addresses usable at once (no duplicate address detection), and no router solicitations.
      const sysctls = ['net.ipv6.conf.all.accept_dad=0', 'net.ipv6.conf.default.accept_dad=0', 'net.ipv6.conf.default.router_solicitations=0'];
      if (ns === n.switchNs) sysctls.push('net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1');
      nsRun(ns, 'sysctl', ['-q', '-w', ...sysctls]);
    }
    const he = n.routerNs('headend');
    const te = n.routerNs('tailend');

    // End-users, each on its own access port of the headend.
    for (const u of USERS) {
      const p = USER_PLAN[u];
      const host = n.userNs(u);
      veth(p.accessIf, he, p.gateway.mac, 'eth0', host, p.host.mac, ACCESS_MTU);
      nsRun(host, '/usr/bin/python3', [featuresScript(), 'eth0', ...CHECKSUM_OFFLOAD_OFF]);
      if (p.vlan) {
        // bob's two tags (802.1ad outer, 802.1Q inner), added and removed by tc at both ends
        const obj = buildVlanProgram(this.names.stateDir, p.vlan);
        for (const [ns, dev] of [
          [host, 'eth0'],
          [he, p.accessIf],
        ] as const) {
          nsRun(ns, '/usr/bin/python3', [featuresScript(), dev, ...VLAN_OFFLOAD_OFF]);
          nsRun(ns, 'tc', ['qdisc', 'add', 'dev', dev, 'clsact']);
          nsRun(ns, 'tc', ['filter', 'add', 'dev', dev, 'egress', 'bpf', 'direct-action', 'obj', obj, 'sec', 'tc', 'program', 'lab_vlan_egress']);
          nsRun(ns, 'tc', ['filter', 'add', 'dev', dev, 'ingress', 'bpf', 'direct-action', 'obj', obj, 'sec', 'tc', 'program', 'lab_vlan_ingress']);
        }
      }
      addAddresses(he, p.gatewayIf, [`${p.gateway.v4}/24`, `${p.gateway.v6}/64`]);
      addAddresses(host, p.hostIf, [`${p.host.v4}/24`, `${p.host.v6}/64`]);
      ip(host, 'route', 'add', 'default', 'via', p.gateway.v4);
      ip(host, '-6', 'route', 'add', 'default', 'via', p.gateway.v6);
    }

    // ISP hosts, each behind its own link at the tailend, both answering on the "internet" address.
    for (const i of ISPS) {
      const p = ISP_PLAN[i];
      const host = n.ispNs(i);
      veth(p.tailendIf, te, p.router.mac, 'eth0', host, p.host.mac, this.state.ispMtu ?? ACCESS_MTU);
      nsRun(host, '/usr/bin/python3', [featuresScript(), 'eth0', ...CHECKSUM_OFFLOAD_OFF]);
      addAddresses(te, p.tailendIf, [`${p.router.v4}/${p.len.v4}`, `${p.router.v6}/${p.len.v6}`]);
      addAddresses(host, 'eth0', [`${p.host.v4}/${p.len.v4}`, `${p.host.v6}/${p.len.v6}`]);
      addAddresses(host, 'lo', [`${INTERNET.v4}/32`, `${INTERNET.v6}/128`]);
      ip(host, 'route', 'add', 'default', 'via', p.router.v4);
      ip(host, '-6', 'route', 'add', 'default', 'via', p.router.v6);
    }

    // The backbone: every link through a bridge of the switch namespace.
    const sw = n.switchNs;
    for (const l of CORE_LINKS) {
      ip(sw, 'link', 'add', l.bridge, 'type', 'bridge', 'stp_state', '0', 'forward_delay', '0', 'mcast_snooping', '0');
      ip(sw, 'link', 'set', l.bridge, 'mtu', String(CORE_MTU));
      for (const side of [l.a, l.b]) {
        veth(side.ifname, n.routerNs(side.router), side.mac, side.port, sw, undefined, CORE_MTU);
        ip(sw, 'link', 'set', side.port, 'master', l.bridge);
        addAddresses(n.routerNs(side.router), side.ifname, [`${side.v4}/${CORE_LEN.v4}`, `${side.v6}/${CORE_LEN.v6}`]);
      }
      ip(sw, 'link', 'set', l.bridge, 'up');
    }

    // Management: a veth from the host to each router, for the daemons' HTTP API and /metrics.
    for (const r of ROUTERS) {
      const m = mgmtAddresses(this.st.slot, r);
      const hostIf = n.mgmtHostIf(r);
      ip(null, 'link', 'add', hostIf, 'type', 'veth', 'peer', 'name', 'mgmt0', 'netns', n.routerNs(r));
      ip(null, 'addr', 'add', `${m.host}/${m.len}`, 'dev', hostIf);
      ip(null, 'link', 'set', hostIf, 'up');
      addAddresses(n.routerNs(r), 'mgmt0', [`${m.router}/${m.len}`]);
      ip(n.routerNs(r), 'link', 'set', 'mgmt0', 'up');
    }
  }

  get ldp(): boolean {
    return this.st.ldp === true;
  }

  get frrPathspace(): string {
    return `${this.name}-${FRR_NS}`;
  }

  /** FRR's vtysh in this lab (`lab up --ldp`). */
  frr(...cmds: string[]): string {
    return frrVtysh(this.frrPathspace, ...cmds);
  }

  /**
   * The LDP variant's additions: a loopback per router (LSR-ID and transport address), FRR's
   * namespace and its link to the lsr, and the static routes LDP follows (to the loopbacks and
   * to each ISP's two FECs).
   */
  private buildLdpNetwork(): void {
    const n = this.names;
    const id = LDP_PLAN.lsrId;
    const f = LDP_PLAN.frrLink;
    const frrNs = n.ns(FRR_NS);
    ip(null, 'netns', 'add', frrNs);
    ip(frrNs, 'link', 'set', 'lo', 'up');
    veth(f.lsr.ifname, n.routerNs('lsr'), f.lsr.mac, f.frr.ifname, frrNs, f.frr.mac, CORE_MTU);
    addAddresses(n.routerNs('lsr'), f.lsr.ifname, [`${f.lsr.v4}/${f.len}`]);
    addAddresses(frrNs, f.frr.ifname, [`${f.frr.v4}/${f.len}`]);
    addAddresses(frrNs, 'lo', [`${id.frr}/32`]);
    for (const r of ROUTERS) addAddresses(n.routerNs(r), 'lo', [`${id[r]}/32`]);
    // the headend owns each ISP's return FEC
    for (const i of ISPS) addAddresses(n.routerNs('headend'), 'lo', [ldpFecs(i).downstream]);
    const up = ISPS.map((i) => ldpFecs(i).upstream);
    const down = ISPS.map((i) => ldpFecs(i).downstream);
    const link = (a: RouterName, b: RouterName): string => {
      const l = CORE_LINKS.find((x) => (x.a.router === a && x.b.router === b) || (x.a.router === b && x.b.router === a))!;
      return l.a.router === b ? l.a.v4 : l.b.v4;
    };
    const routes: Record<RouterName | 'frr', Array<[string, string]>> = {
      headend: [...[id.lsr, id.tailend, id.frr].map((a): [string, string] => [`${a}/32`, link('headend', 'lsr')]), ...up.map((p): [string, string] => [p, link('headend', 'lsr')])],
      lsr: [
        [`${id.headend}/32`, link('lsr', 'headend')],
        ...down.map((p): [string, string] => [p, link('lsr', 'headend')]),
        [`${id.tailend}/32`, link('lsr', 'tailend')],
        ...up.map((p): [string, string] => [p, link('lsr', 'tailend')]),
        [`${id.frr}/32`, f.frr.v4],
      ],
      tailend: [...[id.headend, id.lsr, id.frr].map((a): [string, string] => [`${a}/32`, link('tailend', 'lsr')]), ...down.map((p): [string, string] => [p, link('tailend', 'lsr')])],
      frr: [...[id.headend, id.lsr, id.tailend].map((a): [string, string] => [`${a}/32`, f.lsr.v4]), ...[...up, ...down].map((p): [string, string] => [p, f.lsr.v4])],
    };
    for (const [r, list] of Object.entries(routes)) {
      const ns = r === 'frr' ? frrNs : n.routerNs(r as RouterName);
      for (const [dst, via] of list) ip(ns, 'route', 'add', dst, 'via', via);
    }
  }

  /** LDP's state of a router (`GET /v1/ldp/status`). */
  async ldpStatus(r: RouterName): Promise<{ stale: unknown; tables: { upstream: Record<string, { label: number }>; downstream: Record<string, { label: number }>; ilm: Array<{ label: number; action: string; isp?: string; labels?: number[] }> } }> {
    return this.api(r).get('/v1/ldp/status');
  }

  /** Until the headend pushes a learned label for every ISP, the tailend labels every ISP's
   * return traffic, and the lsr has a session with each of its three neighbours. */
  async waitLdp(timeoutMs = 120_000): Promise<void> {
    const until = Date.now() + timeoutMs;
    let last = '';
    while (Date.now() < until) {
      try {
        const [he, te] = await Promise.all([this.ldpStatus('headend'), this.ldpStatus('tailend')]);
        const nbrs = await this.api('lsr').get<{ neighbors: Array<{ neighborId: string; state: string }> }>('/v1/ldp/neighbors');
        const up = nbrs.neighbors.filter((x) => x.state === 'OPERATIONAL').map((x) => x.neighborId);
        const ok = ISPS.every((i) => he.tables.upstream[i] && te.tables.downstream[i]) && up.length >= 3;
        last = `headend pushes ${JSON.stringify(he.tables.upstream)}, tailend ${JSON.stringify(te.tables.downstream)}, lsr sessions ${up.join(' ')}`;
        if (ok) return;
      } catch (err) {
        last = (err as Error).message;
      }
      await sleep(250);
    }
    throw new LabError(`LDP did not converge within ${timeoutMs} ms (${last})`);
  }

  /** Pings every gateway once, so ARP and ND are resolved before any stream starts. */
  async warmUp(): Promise<void> {
    const n = this.names;
    const jobs: Array<Promise<unknown>> = [];
    for (const u of USERS) {
      const p = USER_PLAN[u];
      for (const a of [p.gateway.v4, p.gateway.v6]) jobs.push(pingAsync(n.userNs(u), a, 1));
    }
    for (const i of ISPS) {
      const p = ISP_PLAN[i];
      for (const a of [p.router.v4, p.router.v6]) jobs.push(pingAsync(n.ispNs(i), a, 1));
    }
    for (const l of CORE_LINKS) jobs.push(pingAsync(n.routerNs(l.a.router), l.b.v4, 1), pingAsync(n.routerNs(l.a.router), l.b.v6, 1));
    await Promise.all(jobs);
  }

  // ---- the daemons ----

  private daemonPaths(r: RouterName) {
    const dir = join(this.names.stateDir, r);
    return { dir, socket: join(dir, 'api.sock'), tokenFile: join(dir, 'token'), log: join(this.names.stateDir, `${r}.log`) };
  }

  /** Starts a router's daemon and waits until it reports ready. */
  async startDaemon(r: RouterName, o: { logLevel?: string; timeoutMs?: number; object?: string } = {}): Promise<DaemonRecord> {
    const p = this.daemonPaths(r);
    mkdirSync(p.dir, { recursive: true, mode: 0o700 });
    const m = mgmtAddresses(this.st.slot, r);
    const ns = this.names.routerNs(r);
    const logFd = openSync(p.log, 'a');
    let pid: number | undefined;
    try {
      const child = spawn(
        'nsenter',
        [
          `--net=/run/netns/${ns}`,
          process.execPath,
          join(repoRoot(), 'bin', 'fecflow.js'),
          'serve',
          '-c',
          this.configPath(r),
          '--listen',
          `unix:${p.socket}`,
          '--listen',
          `${m.router}:${API_PORT}`,
          '--pin-root',
          this.names.pinDir,
          '--state-dir',
          p.dir,
          '--log-level',
          o.logLevel ?? 'info',
          // another build's BPF object (the upgrade tests)
          ...(o.object ? ['--object', o.object] : []),
        ],
        { detached: true, stdio: ['ignore', logFd, logFd] },
      );
      pid = child.pid;
      child.unref();
    } finally {
      closeSync(logFd);
    }
    if (!pid) throw new LabError(`cannot start the ${r} daemon (see ${p.log})`);
    // nsenter execs node in place, so this PID is the daemon's for its whole life.
    const startTime = processStartTime(pid) ?? 0;
    const rec: DaemonRecord = {
      router: r,
      namespace: ns,
      pid,
      startTime,
      config: this.configPath(r),
      socket: p.socket,
      url: `http://${m.router}:${API_PORT}`,
      tokenFile: p.tokenFile,
      log: p.log,
    };
    this.st.daemons[r] = rec;
    this.save();
    await this.waitReady(r, o.timeoutMs ?? 30_000);
    return rec;
  }

  /** Waits for the daemon's /readyz; fails early, with its log's tail, if it exits. */
  async waitReady(r: RouterName, timeoutMs = 30_000): Promise<void> {
    const d = this.daemon(r);
    const api = this.api(r);
    const until = Date.now() + timeoutMs;
    let last = '';
    while (Date.now() < until) {
      if (!processAlive(d.pid, d.startTime)) throw new LabError(`the ${r} daemon exited while starting; its log ends:\n${tail(d.log, 15)}`);
      if (existsSync(d.socket)) {
        try {
          const ready = await api.get<{ ready: boolean }>('/readyz');
          if (ready.ready) return;
        } catch (err) {
          last = (err as Error).message;
        }
      }
      await sleep(50);
    }
    throw new LabError(`the ${r} daemon was not ready within ${timeoutMs} ms (${last}); its log ends:\n${tail(d.log, 15)}`);
  }

  daemon(r: RouterName): DaemonRecord {
    const d = this.st.daemons[r];
    if (!d) throw new LabError(`lab '${this.name}' has no ${r} daemon`);
    return d;
  }

  api(r: RouterName): RouterApi {
    const d = this.daemon(r);
    return routerApi(d.socket, d.tokenFile);
  }

  /** Stops a router's daemon by the PID we started (SIGKILL: as a crash would). Forwarding goes
   * on through the pinned programs and maps. */
  async killDaemon(r: RouterName, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const d = this.daemon(r);
    if (!(await stopProcess(d.pid, d.startTime, 5000, signal))) throw new LabError(`the ${r} daemon (pid ${d.pid}) did not stop`);
  }

  async restartDaemon(r: RouterName, signal: NodeJS.Signals = 'SIGKILL'): Promise<DaemonRecord> {
    await this.killDaemon(r, signal);
    return this.startDaemon(r);
  }

  // ---- changes through the routers' APIs ----

  /** The API match of an end-user, as the headend's subscriber calls take it. */
  static matchOf(u: UserName): Record<string, unknown> {
    const p = USER_PLAN[u];
    switch (p.classifiedBy) {
      case 'mac':
        return { mac: p.host.mac };
      case 'vlan':
        return { vlan: { interface: p.accessIf, outer: p.vlan!.outer, inner: p.vlan!.inner } };
      case 'prefix':
        return { prefix: p.net.v4 };
    }
  }

  /** Moves an end-user to another ISP through the headend's API (one classifier write). */
  async moveUser(u: UserName, isp: IspName): Promise<void> {
    await this.api('headend').send('POST', '/v1/subscribers/move', { subscriber: { ...Lab.matchOf(u), isp } });
  }

  /** End-user -> ISP, from the headend's running config. */
  async assignment(): Promise<Record<string, string>> {
    const r = await this.api('headend').get<{ config: { subscribers?: Array<{ name: string; isp: string | number }> } }>('/v1/config');
    const ids = new Map(ISPS.map((i) => [String(ISP_PLAN[i].id), i]));
    return Object.fromEntries((r.config.subscribers ?? []).map((s) => [s.name, ids.get(String(s.isp)) ?? String(s.isp)]));
  }

  /** Replaces a router's label plan (its ISPs' FECs/routes and its ILM) as an operator does:
   * writes the router file (atomically) and has the daemon reload it. Subscribers live in the
   * registry since the daemon's first start (moves made through the API stay), so the new file
   * lists none. */
  async applyPlan(r: RouterName, plan: PlanState): Promise<void> {
    if (this.ldp) throw new LabError('this lab learns its labels by LDP: there is no static label plan to replace (fecflow ldp relabel changes a label)');
    const { subscribers: _owned, ...gen } = routerDocument(r, plan, undefined, this.links()) as Record<string, unknown>;
    this.writeConfig(r, stringify(gen, { lineWidth: 0 }));
    await this.api(r).send('POST', '/v1/reload');
  }

  /**
   * A whole new label plan, make-before-break: (1) the new labels' ILM entries, from the
   * routers that pop them (tailend upstream, headend downstream) back to the lsr that swaps
   * into them; (2) the FECs and ISP routes switched to the new labels; (3) after the frames in
   * flight have drained, the old labels removed, from the lsr outwards. Every frame finds its
   * label at every hop all along.
   */
  async replan(gen: number, say: Say = quiet, drainMs = 100): Promise<void> {
    const old = this.st.generation;
    if (gen === old) return;
    const both = { ilmGens: [old, gen] };
    say(`label plan ${old} -> ${gen}: installing the new incoming labels (tailend, headend, then lsr)`);
    for (const r of ['tailend', 'headend', 'lsr'] as const) await this.applyPlan(r, { fecGen: old, ...both });
    say('switching the FECs (headend) and ISP routes (tailend) to the new labels');
    for (const r of ['headend', 'tailend'] as const) await this.applyPlan(r, { fecGen: gen, ...both });
    await sleep(drainMs);
    say('removing the old labels (lsr, then headend and tailend)');
    for (const r of ['lsr', 'headend', 'tailend'] as const) await this.applyPlan(r, planOf(gen));
    this.st.generation = gen;
    this.save();
  }

  // ---- reading the hosts ----

  /** Packets a host's XDP program counted per source address. */
  hostCounts(host: UserName | IspName): SourceCount[] {
    return readSourceCounts(this.hostPinDir(host));
  }

  async status(): Promise<LabStatus> {
    return statusOf(this.names, this.st);
  }
}

export async function labStatus(name: string): Promise<LabStatus> {
  const names = labNames(name);
  return statusOf(names, readState(names.stateDir));
}

async function statusOf(names: LabNames, st: LabState | undefined): Promise<LabStatus> {
  const routers: RouterStatus[] = [];
  for (const r of ROUTERS) {
    const d = st?.daemons[r];
    const running = d ? processAlive(d.pid, d.startTime) : false;
    let ready = false;
    let error: string | undefined;
    if (d && running) {
      try {
        ready = (await routerApi(d.socket, d.tokenFile, 3000).get<{ ready: boolean }>('/readyz')).ready;
      } catch (err) {
        error = (err as Error).message;
      }
    }
    routers.push({
      router: r,
      namespace: names.routerNs(r),
      pid: d?.pid ?? null,
      running,
      ready,
      socket: d?.socket ?? null,
      metrics: d ? `${d.url}/metrics` : null,
      ...(error ? { error } : {}),
    });
  }
  let subscribers: LabStatus['subscribers'] = [];
  const he = st?.daemons.headend;
  if (he && routers[0]!.ready) {
    try {
      const r = await routerApi(he.socket, he.tokenFile, 3000).get<{ subscribers: Array<{ name: string; isp: string }> }>('/v1/subscribers');
      subscribers = r.subscribers.map((s) => ({ name: s.name, isp: s.isp }));
    } catch {
      /* shown as no subscribers */
    }
  }
  const namespaces = names.namespaces.map((n) => ({ name: n, present: netnsExists(n) }));
  return {
    name: names.name,
    up: st !== undefined && routers.every((r) => r.ready) && namespaces.every((n) => n.present),
    namespaces,
    routers,
    subscribers,
    generation: st?.generation ?? null,
    ldp: st?.ldp === true,
  };
}

// ---- helpers ----

function veth(a: string, nsA: string, macA: string | undefined, b: string, nsB: string, macB: string | undefined, mtu: number): void {
  ip(null, 'link', 'add', a, 'netns', nsA, 'type', 'veth', 'peer', 'name', b, 'netns', nsB);
  for (const [ns, dev, mac] of [
    [nsA, a, macA],
    [nsB, b, macB],
  ] as const) {
    if (mac) ip(ns, 'link', 'set', dev, 'address', mac);
    ip(ns, 'link', 'set', dev, 'mtu', String(mtu));
    ip(ns, 'link', 'set', dev, 'up');
  }
}

function addAddresses(ns: string, dev: string, addrs: string[]): void {
  for (const a of addrs) ip(ns, 'addr', 'add', a, 'dev', dev, ...(a.includes(':') ? ['nodad'] : []));
}

function featuresScript(): string {
  return join(repoRoot(), 'scripts', 'lab', 'netdev_features.py');
}

function pingAsync(ns: string, address: string, count: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = spawn('nsenter', [`--net=/run/netns/${ns}`, 'ping', '-c', String(count), '-W', '2', '-q', address], { stdio: 'ignore' });
    c.on('exit', (code) => resolve(code === 0));
    c.on('error', () => resolve(false));
  });
}

function tail(path: string, lines: number): string {
  try {
    return readFileSync(path, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

const slotFile = (s: number): string => join(STATE_ROOT, 'slots', String(s));

/**
 * Claims a management slot no other lab holds and whose /24 no host interface has an address
 * in. A claim is a file created exclusively (O_EXCL), so two labs coming up at the same moment
 * never get the same slot; a claim whose lab has no state any more is stale and taken over.
 */
function claimSlot(name: string): number {
  mkdirSync(join(STATE_ROOT, 'slots'), { recursive: true });
  let hostAddrs = '';
  try {
    hostAddrs = run('ip', ['-4', '-o', 'addr', 'show']);
  } catch {
    /* no ip: checkPrerequisites already failed */
  }
  for (let s = 0; s < MAX_SLOTS; s++) {
    if (s === 69) continue; // 169.254.169.0/24 holds cloud metadata services
    if (hostAddrs.includes(` 169.254.${100 + s}.`)) continue;
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        writeFileSync(slotFile(s), name, { flag: 'wx' });
        return s;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        let owner = '';
        try {
          owner = readFileSync(slotFile(s), 'utf8').trim();
        } catch {
          continue; // released meanwhile: try again
        }
        if (owner === name) return s;
        if (owner && LAB_NAME_RE.test(owner) && !existsSync(labNames(owner).stateDir)) rmSync(slotFile(s), { force: true });
        else break;
      }
    }
  }
  throw new LabError(`all ${MAX_SLOTS} management slots are taken: take some labs down (fecflow lab status --name NAME)`);
}

function releaseSlots(name: string): void {
  for (let s = 0; s < MAX_SLOTS; s++) {
    try {
      if (readFileSync(slotFile(s), 'utf8').trim() === name) rmSync(slotFile(s), { force: true });
    } catch {
      /* no claim */
    }
  }
}

function checkPrerequisites(): void {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) throw new LabError('the lab needs root (network namespaces, XDP, bpffs)');
  const root = repoRoot();
  const need: Array<[string, string]> = [
    [join(root, 'build', 'bpf', 'fecflow.bpf.o'), 'npm run build:bpf'],
    [join(root, 'dist', 'control', 'cli', 'main.js'), 'npm run build:ts'],
    [join(root, 'build', 'Release', 'fecflow_bpf.node'), 'npm run build'],
  ];
  for (const [path, fix] of need) if (!existsSync(path)) throw new LabError(`${path} is missing: run \`${fix}\` (or ./run demo, which builds)`);
  for (const tool of ['ip', 'nsenter', 'clang', 'ping']) {
    if (!tryRun('sh', ['-c', `command -v ${tool}`])) throw new LabError(`${tool} is not installed (bash scripts/system-deps.sh installs what is missing)`);
  }
}
