// The LDP speaker's counters in the daemon's Prometheus registry (prom-client), read from the
// speaker at scrape time. Labels are message type, status and drop reason — small fixed sets —
// never a neighbour.
import { Counter, Gauge, type Registry } from 'prom-client';
import type { SpeakerStats } from './speaker.js';

type Read = () => SpeakerStats | undefined;

function counter(registry: Registry, read: Read, name: string, help: string, label: string | null, pick: (s: SpeakerStats) => Record<string, number> | number): void {
  new Counter({
    name,
    help,
    labelNames: label ? [label] : [],
    registers: [registry],
    collect() {
      const s = read();
      if (!s) return;
      const v = pick(s);
      this.reset();
      if (typeof v === 'number') this.inc(v);
      else for (const [k, n] of Object.entries(v)) this.inc({ [label!]: k }, n);
    },
  });
}

/** Registers the LDP families; `read` answers undefined while no speaker runs. */
export function registerLdpMetrics(registry: Registry, read: Read, stale: () => boolean = () => false): void {
  new Gauge({
    name: 'fecflow_ldp_sessions_up',
    help: 'LDP sessions in state OPERATIONAL.',
    registers: [registry],
    collect() {
      this.set(read()?.sessionsUp ?? 0);
    },
  });
  new Gauge({
    name: 'fecflow_ldp_stale_labels',
    help: '1 while labels installed before a restart are kept for sessions to re-form, else 0.',
    registers: [registry],
    collect() {
      this.set(stale() ? 1 : 0);
    },
  });
  counter(registry, read, 'fecflow_ldp_messages_sent_total', 'LDP messages sent, by type.', 'type', (s) => s.messagesSent);
  counter(registry, read, 'fecflow_ldp_messages_received_total', 'LDP messages received, by type.', 'type', (s) => s.messagesReceived);
  counter(registry, read, 'fecflow_ldp_notifications_sent_total', 'Notifications sent because of what a peer sent (or on shutdown), by status.', 'status', (s) => s.notificationsSent);
  counter(registry, read, 'fecflow_ldp_notifications_received_total', 'Notifications received from peers, by status.', 'status', (s) => s.notificationsReceived);
  counter(registry, read, 'fecflow_ldp_label_changes_total', "Changes of a FEC's local or downstream label.", null, (s) => s.labelChanges);
  counter(registry, read, 'fecflow_ldp_hello_drops_total', 'Discovery Hellos dropped, by reason.', 'reason', (s) => s.helloDrops);
  counter(registry, read, 'fecflow_ldp_connections_refused_total', 'TCP connections refused before a session (no Hello, wrong role, duplicate, too many waiting).', null, (s) => s.connectionsRefused);
}
