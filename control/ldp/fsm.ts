// The LDP session state machine (RFC 5036 2.5.4, figure in 2.5.4) as a table of
// (state, event) -> (action, next state), in the manner of FRR's neighbor.c. The table is data:
// the session executes the action, so every transition can be tested without a socket.

export type SessionState = 'NON EXISTENT' | 'INITIALIZED' | 'OPENREC' | 'OPENSENT' | 'OPERATIONAL';

export type SessionEvent =
  /** we opened the TCP connection (the higher transport address) */
  | 'connect-active'
  /** the peer's connection was accepted and matched to a Hello adjacency */
  | 'connect-passive'
  /** an acceptable Initialization arrived */
  | 'init-received'
  | 'keepalive-received'
  /** Address, Label, Capability or any other non-session message */
  | 'message-received'
  /** a Notification with the E bit */
  | 'fatal-notification-received'
  /** a fatal error in what the peer sent: tell it, then close */
  | 'protocol-error'
  | 'keepalive-timeout'
  | 'init-timeout'
  | 'transport-closed'
  /** the operator or the speaker ends the session */
  | 'shutdown';

export type SessionAction =
  | 'none'
  | 'send-init'
  /** passive side: answer an Initialization with ours and a KeepAlive */
  | 'send-init-and-keepalive'
  | 'send-keepalive'
  /** first KeepAlive seen: start the keepalive timer, advertise addresses and labels */
  | 'session-up'
  | 'process-message'
  /** send Notification (the error's status, or Shutdown) and close the transport */
  | 'notify-and-close'
  /** close without a Notification (the peer closed or told us why) */
  | 'close';

export interface Transition {
  action: SessionAction;
  next: SessionState;
}

const S = {
  none: 'NON EXISTENT',
  init: 'INITIALIZED',
  openrec: 'OPENREC',
  opensent: 'OPENSENT',
  oper: 'OPERATIONAL',
} as const;

type Row = [SessionState, SessionEvent, SessionAction, SessionState];

const ROWS: Row[] = [
  [S.none, 'connect-active', 'send-init', S.opensent],
  [S.none, 'connect-passive', 'none', S.init],
  [S.init, 'init-received', 'send-init-and-keepalive', S.openrec],
  [S.opensent, 'init-received', 'send-keepalive', S.openrec],
  [S.openrec, 'keepalive-received', 'session-up', S.oper],
  [S.oper, 'keepalive-received', 'none', S.oper],
  [S.oper, 'message-received', 'process-message', S.oper],
];

/** events that end a session the same way in every state but NON EXISTENT */
const ENDINGS: [SessionEvent, SessionAction][] = [
  ['fatal-notification-received', 'close'],
  ['transport-closed', 'close'],
  ['protocol-error', 'notify-and-close'],
  ['keepalive-timeout', 'notify-and-close'],
  ['init-timeout', 'notify-and-close'],
  ['shutdown', 'notify-and-close'],
];

export const TRANSITIONS: ReadonlyMap<string, Transition> = (() => {
  const m = new Map<string, Transition>();
  for (const [state, event, action, next] of ROWS) m.set(`${state}|${event}`, { action, next });
  for (const state of [S.init, S.openrec, S.opensent, S.oper]) {
    for (const [event, action] of ENDINGS) m.set(`${state}|${event}`, { action, next: S.none });
  }
  return m;
})();

/**
 * The next step. Anything the table does not list is a message the RFC does not allow in this
 * state (e.g. a Label Mapping before OPERATIONAL, a second Initialization): the session is
 * refused with a Shutdown Notification, as FRR does. In NON EXISTENT there is nothing to close.
 */
export function transition(state: SessionState, event: SessionEvent): Transition {
  const t = TRANSITIONS.get(`${state}|${event}`);
  if (t) return t;
  if (state === S.none) return { action: 'none', next: S.none };
  return { action: 'notify-and-close', next: S.none };
}

/**
 * Exponential back-off between session attempts (RFC 5036 2.5.3: start at no less than 15 s,
 * cap at no less than 2 min). A session that reaches OPERATIONAL resets it.
 */
export class Backoff {
  private current: number;
  constructor(
    private readonly initialMs = 15_000,
    private readonly maxMs = 120_000,
  ) {
    this.current = initialMs;
  }

  /** the delay before the next attempt; each call doubles the following one */
  next(): number {
    const d = this.current;
    this.current = Math.min(this.current * 2, this.maxMs);
    return d;
  }

  reset(): void {
    this.current = this.initialMs;
  }
}
