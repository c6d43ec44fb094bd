// The LDP speaker's counters as Prometheus text, for the daemon's /metrics once it hosts the
// speaker (the collector there prints its families by hand too). Labels are message type,
// status and drop reason — small fixed sets — never a neighbour.
import type { SpeakerStats } from './speaker.js';

const esc = (v: string): string => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

function family(out: string[], name: string, type: 'counter' | 'gauge', help: string, label: string | null, values: Record<string, number> | number): void {
  out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
  if (typeof values === 'number') {
    out.push(`${name} ${values}`);
    return;
  }
  for (const k of Object.keys(values).sort()) out.push(`${name}{${label}="${esc(k)}"} ${values[k]}`);
}

export function ldpMetricsText(s: SpeakerStats): string {
  const out: string[] = [];
  family(out, 'fecflow_ldp_sessions_up', 'gauge', 'LDP sessions in state OPERATIONAL.', null, s.sessionsUp);
  family(out, 'fecflow_ldp_messages_sent_total', 'counter', 'LDP messages sent, by type.', 'type', s.messagesSent);
  family(out, 'fecflow_ldp_messages_received_total', 'counter', 'LDP messages received, by type.', 'type', s.messagesReceived);
  family(out, 'fecflow_ldp_notifications_sent_total', 'counter', 'Notifications sent because of what a peer sent (or on shutdown), by status.', 'status', s.notificationsSent);
  family(out, 'fecflow_ldp_notifications_received_total', 'counter', 'Notifications received from peers, by status.', 'status', s.notificationsReceived);
  family(out, 'fecflow_ldp_label_changes_total', 'counter', 'Changes of a FEC\'s local or downstream label.', null, s.labelChanges);
  family(out, 'fecflow_ldp_hello_drops_total', 'counter', 'Discovery Hellos dropped, by reason.', 'reason', s.helloDrops);
  family(out, 'fecflow_ldp_connections_refused_total', 'counter', 'TCP connections refused before a session (no Hello, wrong role, duplicate, too many waiting).', null, s.connectionsRefused);
  return out.join('\n') + '\n';
}
