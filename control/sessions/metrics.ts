// Prometheus series of sessions and RADIUS: opens by result, closes by cause, accounting sent,
// retried and pending, and every CoA / Disconnect-Request refused, by reason. Labels stay
// low-cardinality (ISP, result, reason; never a subscriber or a session).
import { Counter, Gauge, type Registry } from 'prom-client';

export type CoaRefusal =
  | 'malformed'
  | 'unknown_client'
  | 'bad_authenticator'
  | 'bad_message_authenticator'
  | 'stale'
  | 'replay'
  | 'unsupported_code';

export const COA_REFUSALS: readonly CoaRefusal[] = ['malformed', 'unknown_client', 'bad_authenticator', 'bad_message_authenticator', 'stale', 'replay', 'unsupported_code'];

export class SessionMetrics {
  readonly opens: Counter<'isp' | 'result'>;
  readonly closes: Counter<'isp' | 'cause'>;
  readonly acctSent: Counter<'isp'>;
  readonly acctRetries: Counter<'isp'>;
  readonly badResponses: Counter<'reason'>;
  readonly coa: Counter<'isp' | 'kind' | 'result'>;
  readonly coaRefused: Counter<'reason'>;

  constructor(registry: Registry | undefined, pending: () => number, open: () => Map<string, number>) {
    const registers = registry ? [registry] : [];
    this.opens = new Counter({ name: 'fecflow_session_opens_total', help: 'Session open requests by ISP and result (accepted, rejected, unreachable).', labelNames: ['isp', 'result'], registers });
    this.closes = new Counter({ name: 'fecflow_session_closes_total', help: 'Sessions closed, by ISP and cause.', labelNames: ['isp', 'cause'], registers });
    this.acctSent = new Counter({ name: 'fecflow_radius_accounting_sent_total', help: 'Accounting records answered by the ISP\'s server.', labelNames: ['isp'], registers });
    this.acctRetries = new Counter({ name: 'fecflow_radius_accounting_unanswered_total', help: 'Accounting sends that got no answer (the record stays in the outbox and is sent again).', labelNames: ['isp'], registers });
    this.badResponses = new Counter({ name: 'fecflow_radius_bad_responses_total', help: 'RADIUS responses ignored: unexpected, malformed or failing their authenticator check.', labelNames: ['reason'], registers });
    this.coa = new Counter({ name: 'fecflow_radius_coa_requests_total', help: 'CoA and Disconnect-Requests answered, by ISP, kind and answer (ack, nak).', labelNames: ['isp', 'kind', 'result'], registers });
    this.coaRefused = new Counter({ name: 'fecflow_radius_coa_refused_total', help: 'CoA and Disconnect-Requests dropped unanswered, by reason.', labelNames: ['reason'], registers });
    for (const reason of COA_REFUSALS) this.coaRefused.inc({ reason }, 0);
    new Gauge({
      name: 'fecflow_radius_accounting_pending',
      help: 'Accounting records in the outbox not yet answered.',
      registers,
      collect() {
        this.set(pending());
      },
    });
    new Gauge({
      name: 'fecflow_sessions_open',
      help: 'Open sessions by ISP.',
      labelNames: ['isp'],
      registers,
      collect() {
        this.reset();
        for (const [isp, n] of open()) this.set({ isp }, n);
      },
    });
  }
}
