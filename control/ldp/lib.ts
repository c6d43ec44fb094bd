// The Label Information Base of the speaker, free of sockets: downstream unsolicited
// advertisement, ordered control (a local label for a FEC only when this node is its egress or
// the downstream neighbour's label is known) and liberal retention (every neighbour's label is
// kept, used or not). Each input returns what to send to which peer and which FECs changed, so
// the speaker only executes and the tests only look.
import { Status } from './constants.js';
import { LdpError } from './errors.js';
import { prefixFamily, type FecElement } from './fec.js';
import type { LabelAllocator } from './labels.js';
import type { OutMessage } from './session.js';

/** what the daemon needs to program the data plane for one FEC */
export interface FecChange {
  prefix: string;
  /** our label (incoming, to swap or pop); undefined when we advertise none */
  localLabel?: number;
  egress: boolean;
  /** the label learned from the downstream neighbour (outgoing, to push or swap to) */
  downstream?: { lsrId: string; nextHop: string; label: number };
}

export interface LibOutput {
  send: { peer: string; msg: OutMessage }[];
  changes: FecChange[];
}

interface FecEntry {
  prefix: string;
  egress: boolean;
  localLabel?: number;
  /** liberal retention: every neighbour's label */
  remote: Map<string, number>;
  downstream?: { lsrId: string; nextHop: string; label: number };
  /** neighbours we advertised localLabel to */
  advertisedTo: Set<string>;
}

interface Peer {
  up: boolean;
  addresses: Set<string>;
  /** graceful restart (RFC 3478): the session is gone, its labels are kept until refreshed */
  stale?: Set<string>;
}

export interface LibOptions {
  allocator: LabelAllocator;
  /** the next hop of the route to a prefix (the daemon's routing view); none: no transit LSP */
  resolveNextHop?: (prefix: string) => string | undefined;
  /** label for FECs we are egress for: a real label (so the tailend knows the FEC on pop) by default */
  egressLabel?: 'allocate' | 'implicit-null';
  /** the label a FEC had before a restart: taken again when free, so peers see no change */
  preferredLabel?: (prefix: string) => number | undefined;
}

export interface BindingView {
  prefix: string;
  egress: boolean;
  localLabel: number | null;
  remote: { neighborId: string; remoteLabel: number; inUse: boolean }[];
}

export class Lib {
  private readonly fecs = new Map<string, FecEntry>();
  private readonly peers = new Map<string, Peer>();
  /** labels withdrawn from peers and not yet released by all of them */
  private readonly awaitingRelease = new Map<number, { prefix: string; waiting: Set<string>; since: number }>();
  /** the same, by FEC, for Releases that carry no label */
  private readonly withdrawnLabels = new Map<string, Set<number>>();
  labelChanges = 0;

  constructor(private readonly o: LibOptions) {}

  /** Sets the FECs this node is egress for (e.g. one per ISP hand-off). */
  setEgress(prefixes: string[]): LibOutput {
    const want = new Set(prefixes);
    const out = empty();
    for (const p of want) if (!this.fecs.has(p)) this.fecs.set(p, newEntry(p));
    for (const e of this.fecs.values()) {
      const egress = want.has(e.prefix);
      if (egress !== e.egress) {
        e.egress = egress;
        this.recompute(e, out);
      }
    }
    return out;
  }

  /** The routing view changed: re-resolve every FEC's downstream neighbour. */
  recomputeAll(): LibOutput {
    const out = empty();
    for (const e of [...this.fecs.values()]) this.recompute(e, out);
    return out;
  }

  peerUp(lsrId: string): LibOutput {
    const old = this.peers.get(lsrId);
    // a restarting peer's labels stay (marked stale) until it maps them again or recovery ends;
    // its old addresses too, until its Address message comes
    this.peers.set(lsrId, old?.stale ? { up: true, addresses: old.addresses, stale: old.stale } : { up: true, addresses: new Set() });
    const out = empty();
    for (const e of this.fecs.values()) this.advertise(e, lsrId, out);
    return out;
  }

  /**
   * The session is gone: its labels, addresses and releases with it — or, with `graceful` (the
   * peer announced graceful restart), its labels and addresses are kept, marked stale, and
   * forwarding through them goes on until purgeStale().
   */
  peerDown(lsrId: string, graceful = false): LibOutput {
    if (graceful) return this.peerDownGraceful(lsrId);
    this.peers.delete(lsrId);
    const out = empty();
    for (const [label, w] of [...this.awaitingRelease]) {
      w.waiting.delete(lsrId);
      if (w.waiting.size === 0) this.freeLabel(label);
    }
    for (const e of [...this.fecs.values()]) {
      e.advertisedTo.delete(lsrId);
      e.remote.delete(lsrId);
      this.recompute(e, out);
    }
    return out;
  }

  private peerDownGraceful(lsrId: string): LibOutput {
    const p = this.peers.get(lsrId);
    const stale = new Set<string>();
    for (const e of this.fecs.values()) {
      e.advertisedTo.delete(lsrId);
      if (e.remote.has(lsrId)) stale.add(e.prefix);
    }
    for (const [label, w] of [...this.awaitingRelease]) {
      w.waiting.delete(lsrId);
      if (w.waiting.size === 0) this.freeLabel(label);
    }
    this.peers.set(lsrId, { up: false, addresses: p?.addresses ?? new Set(), stale });
    return empty();
  }

  /** Whether a peer's labels are kept from a session that went down (graceful restart). */
  isStale(lsrId: string): boolean {
    return this.peers.get(lsrId)?.stale !== undefined;
  }

  /** Ends graceful restart for a peer: labels it did not map again are removed (all of them if
   * its session is still down). */
  purgeStale(lsrId: string): LibOutput {
    const p = this.peers.get(lsrId);
    if (!p?.stale) return empty();
    if (!p.up) return this.peerDown(lsrId);
    const out = empty();
    for (const prefix of p.stale) {
      const e = this.fecs.get(prefix);
      if (!e) continue;
      e.remote.delete(lsrId);
      this.recompute(e, out);
    }
    delete p.stale;
    return out;
  }

  addresses(lsrId: string, addrs: string[], withdraw: boolean): LibOutput {
    const p = this.peers.get(lsrId);
    if (!p) return empty();
    for (const a of addrs) withdraw ? p.addresses.delete(a) : p.addresses.add(a);
    return this.recomputeAll();
  }

  peerAddresses(lsrId: string): string[] {
    return [...(this.peers.get(lsrId)?.addresses ?? [])];
  }

  /** A Label Mapping from a neighbour (DU, liberal retention). */
  mapping(lsrId: string, fec: FecElement[], label: number): LibOutput {
    const out = empty();
    for (const el of fec) {
      if (el.type !== 'prefix') continue;
      const e = this.entry(el.prefix);
      this.peers.get(lsrId)?.stale?.delete(el.prefix);
      const old = e.remote.get(lsrId);
      // a new label for a FEC we hold one for from this neighbour replaces it; release the old (as FRR)
      if (old !== undefined && old !== label) out.send.push({ peer: lsrId, msg: { kind: 'label-release', fec: [el], label: old } });
      e.remote.set(lsrId, label);
      this.recompute(e, out);
    }
    return out;
  }

  /** A Label Withdraw: forget the binding(s) and answer with a Label Release. */
  withdraw(lsrId: string, fec: FecElement[], label?: number): LibOutput {
    const out = empty();
    for (const el of fec) {
      for (const e of this.matching(el)) {
        const held = e.remote.get(lsrId);
        if (held === undefined || (label !== undefined && held !== label)) continue;
        e.remote.delete(lsrId);
        this.recompute(e, out);
      }
      out.send.push({ peer: lsrId, msg: { kind: 'label-release', fec: [el], ...(label !== undefined ? { label } : {}) } });
    }
    return out;
  }

  /** A Label Release: the neighbour no longer uses our label for these FECs. */
  release(lsrId: string, fec: FecElement[], label?: number): LibOutput {
    for (const el of fec) {
      for (const e of this.matching(el)) {
        if (label === undefined || e.localLabel === label) e.advertisedTo.delete(lsrId);
      }
      // withdrawn labels of the FECs this Release names (by label when it carries one)
      const prefixes = el.type === 'prefix' ? [el.prefix] : [...this.withdrawnLabels.keys()].filter((p) => el.type === 'wildcard' || (el.fecType === 2 && (el.family === undefined || prefixFamily(p) === el.family)));
      for (const p of prefixes) {
        for (const l of [...(this.withdrawnLabels.get(p) ?? [])]) {
          if (label !== undefined && l !== label) continue;
          const w = this.awaitingRelease.get(l)!;
          w.waiting.delete(lsrId);
          if (w.waiting.size === 0) this.freeLabel(l);
        }
      }
    }
    return empty();
  }

  /** A Label Request (DU peers may still ask): answer from what we have. */
  request(lsrId: string, fec: FecElement[], requestId: number): LibOutput {
    const out = empty();
    for (const el of fec) {
      if (el.type !== 'prefix') continue;
      const e = this.fecs.get(el.prefix);
      if (e?.localLabel === undefined) throw new LdpError(Status.NoRoute, `no label for ${el.prefix}`);
      out.send.push({ peer: lsrId, msg: { kind: 'label-mapping', fec: [el], label: e.localLabel, requestId } });
      e.advertisedTo.add(lsrId);
    }
    return out;
  }

  /**
   * Gives a FEC a new local label, make-before-break: the new label is advertised to every peer
   * (a Label Mapping with a new label replaces the old one at the peer, which releases the old
   * label), and the old label stays allocated — and installed — until every peer that held it
   * released it (or releaseTimeout passes).
   */
  relabel(prefix: string): LibOutput {
    const out = empty();
    const e = this.fecs.get(prefix);
    if (e?.localLabel === undefined || e.localLabel < 16) throw new RangeError(`no local label to change for ${prefix}`);
    const next = this.o.allocator.allocate();
    if (next === undefined) throw new RangeError('the label range is exhausted');
    const old = e.localLabel;
    if (e.advertisedTo.size > 0) this.retire(prefix, old, e.advertisedTo);
    else this.freeLabel(old);
    e.localLabel = next;
    e.advertisedTo.clear();
    for (const peer of this.peers.keys()) this.advertise(e, peer, out);
    this.labelChanges++;
    out.changes.push(changeOf(e));
    return out;
  }

  /** Local labels withdrawn or replaced and not yet released by every peer: label -> FEC. */
  retiring(): Map<number, string> {
    return new Map([...this.awaitingRelease].map(([l, w]) => [l, w.prefix]));
  }

  /** Frees retiring labels whose Release has not come within `maxAgeMs`; their FECs. */
  expireRetiring(maxAgeMs: number, now = Date.now()): string[] {
    const out: string[] = [];
    for (const [label, w] of [...this.awaitingRelease]) {
      if (now - w.since < maxAgeMs) continue;
      out.push(w.prefix);
      this.freeLabel(label);
    }
    return out;
  }

  bindings(): BindingView[] {
    return [...this.fecs.values()]
      .filter((e) => e.egress || e.localLabel !== undefined || e.remote.size > 0)
      .sort((a, b) => a.prefix.localeCompare(b.prefix))
      .map((e) => ({
        prefix: e.prefix,
        egress: e.egress,
        localLabel: e.localLabel ?? null,
        remote: [...e.remote].sort(([a], [b]) => a.localeCompare(b)).map(([neighborId, remoteLabel]) => ({ neighborId, remoteLabel, inUse: e.downstream?.lsrId === neighborId })),
      }));
  }

  get labelsInUse(): number {
    return this.o.allocator.inUse;
  }

  private entry(prefix: string): FecEntry {
    let e = this.fecs.get(prefix);
    if (!e) {
      e = newEntry(prefix);
      this.fecs.set(prefix, e);
    }
    return e;
  }

  private matching(el: FecElement): FecEntry[] {
    if (el.type === 'prefix') return this.fecs.has(el.prefix) ? [this.fecs.get(el.prefix)!] : [];
    if (el.type === 'wildcard') return [...this.fecs.values()];
    return [...this.fecs.values()].filter((e) => el.fecType === 2 && (el.family === undefined || prefixFamily(e.prefix) === el.family));
  }

  private downstreamOf(e: FecEntry): FecEntry['downstream'] {
    if (e.egress) return undefined;
    const nh = this.o.resolveNextHop?.(e.prefix);
    if (nh === undefined) return undefined;
    for (const [lsrId, p] of this.peers) {
      // a peer restarting gracefully still forwards with the labels it gave us
      if ((!p.up && !p.stale) || !p.addresses.has(nh)) continue;
      const label = e.remote.get(lsrId);
      if (label !== undefined) return { lsrId, nextHop: nh, label };
    }
    return undefined;
  }

  /** Brings one FEC's local label and advertisements in line with ordered control. */
  private recompute(e: FecEntry, out: LibOutput): void {
    const before = JSON.stringify([e.localLabel, e.downstream]);
    e.downstream = this.downstreamOf(e);
    const wantLocal = e.egress || e.downstream !== undefined;
    if (wantLocal && e.localLabel === undefined) {
      const l = e.egress && this.o.egressLabel === 'implicit-null' ? 3 : this.allocateFor(e.prefix);
      if (l === undefined) return; // range exhausted: no label, nothing advertised (counted by labelsInUse)
      e.localLabel = l;
      for (const peer of this.peers.keys()) this.advertise(e, peer, out);
    } else if (!wantLocal && e.localLabel !== undefined) {
      const label = e.localLabel;
      e.localLabel = undefined;
      if (e.advertisedTo.size > 0) {
        for (const peer of e.advertisedTo) out.send.push({ peer, msg: { kind: 'label-withdraw', fec: [{ type: 'prefix', prefix: e.prefix }], label } });
        if (label >= 16) {
          this.retire(e.prefix, label, e.advertisedTo);
        }
        e.advertisedTo.clear();
      } else {
        this.freeLabel(label);
      }
    } else if (e.localLabel !== undefined && e.downstream) {
      // split horizon: the downstream neighbour must not hold our label for its own FEC
      const ds = e.downstream.lsrId;
      if (e.advertisedTo.has(ds)) {
        out.send.push({ peer: ds, msg: { kind: 'label-withdraw', fec: [{ type: 'prefix', prefix: e.prefix }], label: e.localLabel } });
        e.advertisedTo.delete(ds);
      }
      for (const peer of this.peers.keys()) this.advertise(e, peer, out);
    }
    const after = JSON.stringify([e.localLabel, e.downstream]);
    if (before !== after) {
      this.labelChanges++;
      out.changes.push(changeOf(e));
    }
    if (!e.egress && e.localLabel === undefined && e.remote.size === 0) this.fecs.delete(e.prefix);
  }

  private advertise(e: FecEntry, peer: string, out: LibOutput): void {
    if (e.localLabel === undefined || e.advertisedTo.has(peer) || e.downstream?.lsrId === peer || !this.peers.get(peer)?.up) return;
    e.advertisedTo.add(peer);
    out.send.push({ peer, msg: { kind: 'label-mapping', fec: [{ type: 'prefix', prefix: e.prefix }], label: e.localLabel } });
  }

  private retire(prefix: string, label: number, holders: Set<string>): void {
    this.awaitingRelease.set(label, { prefix, waiting: new Set(holders), since: Date.now() });
    const set = this.withdrawnLabels.get(prefix) ?? new Set<number>();
    set.add(label);
    this.withdrawnLabels.set(prefix, set);
  }

  private allocateFor(prefix: string): number | undefined {
    const want = this.o.preferredLabel?.(prefix);
    if (want !== undefined && this.o.allocator.take(want)) return want;
    return this.o.allocator.allocate();
  }

  private freeLabel(label: number): void {
    const w = this.awaitingRelease.get(label);
    if (w) {
      this.awaitingRelease.delete(label);
      const set = this.withdrawnLabels.get(w.prefix);
      set?.delete(label);
      if (set?.size === 0) this.withdrawnLabels.delete(w.prefix);
    }
    if (label >= 16) this.o.allocator.free(label);
  }
}

function changeOf(e: FecEntry): FecChange {
  return { prefix: e.prefix, egress: e.egress, ...(e.localLabel !== undefined ? { localLabel: e.localLabel } : {}), ...(e.downstream ? { downstream: { ...e.downstream } } : {}) };
}

function newEntry(prefix: string): FecEntry {
  return { prefix, egress: false, remote: new Map(), advertisedTo: new Set() };
}

function empty(): LibOutput {
  return { send: [], changes: [] };
}
