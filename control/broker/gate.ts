// The seam between a brokered session and the node's own admission of a subscriber: the broker
// asks the gate to let the CPE's line use an ISP while the session runs, and to end that when the
// session closes. The gate here provisions: it moves the line's subscriber to the provider's ISP
// through the daemon's subscriber edit (registry first, then maps, audited), and moves it back to
// the line's home ISP at close. A node with RADIUS sessions plugs in a gate that opens and closes
// one of those instead.
import type { Actor } from '../registry/registry.js';
import type { Daemon } from '../daemon/daemon.js';
import type { SubscriberMatch } from '../daemon/model.js';

export interface SessionGate {
  /** Lets `subscriber` use `isp` now; resolves once the data plane forwards it so. */
  open(subscriber: string, isp: string, opts: { actor: Actor; session: string }): Promise<{ id: string }>;
  /** Ends what open() started (`id` is what it returned); `restore` is the line's home ISP. */
  close(id: string, cause: string, opts: { actor: Actor; subscriber: string; restore: string }): Promise<void>;
}

export class GateError extends Error {
  override readonly name = 'GateError';
}

/** The subscriber's match in API terms, from the document the registry holds. */
function matchOf(doc: Record<string, unknown>): SubscriberMatch {
  const m = (doc.match ?? {}) as Record<string, unknown>;
  if (typeof m.mac === 'string') return { mac: m.mac };
  if (m.vlan && typeof m.vlan === 'object') {
    const v = m.vlan as { interface: string; outer: number; inner?: number };
    return { vlan: v.inner !== undefined ? { interface: v.interface, outer: v.outer, inner: v.inner } : { interface: v.interface, outer: v.outer } };
  }
  const p = Array.isArray(m.prefix) ? m.prefix.map(String).join(',') : String(m.prefix);
  return { prefix: p };
}

/** The gate of a node without sessions of its own: provisioning by moving the subscriber. */
export class ProvisionGate implements SessionGate {
  constructor(private readonly daemon: Daemon<unknown>) {}

  async open(subscriber: string, isp: string, opts: { actor: Actor; session: string }): Promise<{ id: string }> {
    await this.moveTo(subscriber, isp, opts.actor, `broker:session-open ${opts.session}`);
    return { id: `provision:${subscriber}` };
  }

  async close(_id: string, cause: string, opts: { actor: Actor; subscriber: string; restore: string }): Promise<void> {
    await this.moveTo(opts.subscriber, opts.restore, opts.actor, `broker:session-close ${cause}`, true);
  }

  private async moveTo(subscriber: string, isp: string, actor: Actor, trigger: string, gone = false): Promise<void> {
    const doc = this.daemon.registry.subscriber(subscriber);
    if (!doc) {
      if (gone) return; // the line was removed meanwhile: nothing to put back
      throw new GateError(`the node has no subscriber '${subscriber}' (the line of this device): provision it first`);
    }
    if (doc.isp === isp) return;
    await this.daemon.editSubscribers(trigger, { op: 'move', subscriber: { match: matchOf(doc), isp } }, { actor });
  }
}

/** The part of the node's session manager a gate uses (control/sessions/manager.ts). */
export interface NodeSessions {
  open(actor: Actor, req: { subscriber: string }): Promise<{ id: string }>;
  close(actor: Actor, id: string, cause: 'user-request'): Promise<unknown>;
}

/**
 * The gate of a node that runs subscriber sessions: the line is moved to the provider's ISP as
 * the provisioning gate does, and, where the subscriber needs a session to forward (`admission:
 * session`) and that ISP has a RADIUS server, a node session is opened with it — so the ISP's
 * own AAA accepts (or refuses) the brokered session and is sent its accounting. A refusal moves
 * the line back and fails the open. Subscribers forwarding whenever provisioned need no session.
 */
export class SessionsGate implements SessionGate {
  private readonly provision: ProvisionGate;

  constructor(
    private readonly daemon: Daemon<unknown>,
    private readonly sessions: NodeSessions,
    /** does this subscriber, with this ISP, need a RADIUS session to forward */
    private readonly needsSession: (subscriber: string, isp: string) => boolean,
  ) {
    this.provision = new ProvisionGate(daemon);
  }

  async open(subscriber: string, isp: string, opts: { actor: Actor; session: string }): Promise<{ id: string }> {
    const home = String(this.daemon.registry.subscriber(subscriber)?.isp ?? isp);
    const moved = await this.provision.open(subscriber, isp, opts);
    if (!this.needsSession(subscriber, isp)) return moved;
    try {
      const s = await this.sessions.open(opts.actor, { subscriber });
      return { id: `session:${s.id}` };
    } catch (err) {
      await this.provision.close(moved.id, 'refused', { actor: opts.actor, subscriber, restore: home }).catch(() => undefined);
      throw new GateError(`${isp} did not admit the session: ${(err as Error).message}`);
    }
  }

  async close(id: string, cause: string, opts: { actor: Actor; subscriber: string; restore: string }): Promise<void> {
    if (id.startsWith('session:')) {
      await this.sessions.close(opts.actor, id.slice('session:'.length), 'user-request').catch((err: Error) => {
        // closed already (a Disconnect, a timeout): the line only has to go back
        if (!/closed already|no session/.test(err.message)) throw err;
      });
    }
    await this.provision.close(id, cause, opts);
  }
}
