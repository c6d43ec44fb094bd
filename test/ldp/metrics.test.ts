// The LDP counters as Prometheus text: families, types, labels, escaping.
import { describe, expect, it } from 'vitest';
import { ldpMetricsText } from '../../control/ldp/metrics.js';

describe('ldp metrics', () => {
  it('prints every family with HELP and TYPE, labels sorted and escaped', () => {
    const text = ldpMetricsText({
      sessionsUp: 2,
      messagesSent: { keepalive: 10, 'label-mapping': 3 },
      messagesReceived: { init: 2 },
      notificationsSent: { BadTlvLength: 1 },
      notificationsReceived: {},
      labelChanges: 4,
      helloDrops: { 'our "own" Hello': 5 },
      connectionsRefused: 1,
    });
    const lines = text.trimEnd().split('\n');
    expect(lines.filter((l) => l.startsWith('# TYPE')).map((l) => l.split(' ').slice(2).join(' '))).toEqual([
      'fecflow_ldp_sessions_up gauge',
      'fecflow_ldp_messages_sent_total counter',
      'fecflow_ldp_messages_received_total counter',
      'fecflow_ldp_notifications_sent_total counter',
      'fecflow_ldp_notifications_received_total counter',
      'fecflow_ldp_label_changes_total counter',
      'fecflow_ldp_hello_drops_total counter',
      'fecflow_ldp_connections_refused_total counter',
    ]);
    expect(lines.filter((l) => !l.startsWith('#'))).toEqual([
      'fecflow_ldp_sessions_up 2',
      'fecflow_ldp_messages_sent_total{type="keepalive"} 10',
      'fecflow_ldp_messages_sent_total{type="label-mapping"} 3',
      'fecflow_ldp_messages_received_total{type="init"} 2',
      'fecflow_ldp_notifications_sent_total{status="BadTlvLength"} 1',
      'fecflow_ldp_label_changes_total 4',
      'fecflow_ldp_hello_drops_total{reason="our \\"own\\" Hello"} 5',
      'fecflow_ldp_connections_refused_total 1',
    ]);
  });
});
