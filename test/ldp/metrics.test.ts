// The LDP counters in a Prometheus registry: families, types, labels, escaping, and that they
// follow the speaker's stats from scrape to scrape.
import { describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { registerLdpMetrics } from '../../control/ldp/metrics.js';
import type { SpeakerStats } from '../../control/ldp/speaker.js';

const base: SpeakerStats = {
  sessionsUp: 2,
  messagesSent: { keepalive: 10, 'label-mapping': 3 },
  messagesReceived: { init: 2 },
  notificationsSent: { BadTlvLength: 1 },
  notificationsReceived: {},
  labelChanges: 4,
  helloDrops: { 'our "own" Hello': 5 },
  connectionsRefused: 1,
};

describe('ldp metrics', () => {
  it('prints every family with HELP and TYPE, labels escaped, values from the speaker', async () => {
    const reg = new Registry();
    let stats: SpeakerStats | undefined = base;
    let stale = true;
    registerLdpMetrics(reg, () => stats, () => stale);
    const lines = (await reg.metrics()).trimEnd().split('\n');
    expect(lines.filter((l) => l.startsWith('# TYPE')).map((l) => l.split(' ').slice(2).join(' '))).toEqual([
      'fecflow_ldp_sessions_up gauge',
      'fecflow_ldp_stale_labels gauge',
      'fecflow_ldp_messages_sent_total counter',
      'fecflow_ldp_messages_received_total counter',
      'fecflow_ldp_notifications_sent_total counter',
      'fecflow_ldp_notifications_received_total counter',
      'fecflow_ldp_label_changes_total counter',
      'fecflow_ldp_hello_drops_total counter',
      'fecflow_ldp_connections_refused_total counter',
    ]);
    expect(lines.filter((l) => l.length && !l.startsWith('#'))).toEqual([
      'fecflow_ldp_sessions_up 2',
      'fecflow_ldp_stale_labels 1',
      'fecflow_ldp_messages_sent_total{type="keepalive"} 10',
      'fecflow_ldp_messages_sent_total{type="label-mapping"} 3',
      'fecflow_ldp_messages_received_total{type="init"} 2',
      'fecflow_ldp_notifications_sent_total{status="BadTlvLength"} 1',
      'fecflow_ldp_label_changes_total 4',
      'fecflow_ldp_hello_drops_total{reason="our \\"own\\" Hello"} 5',
      'fecflow_ldp_connections_refused_total 1',
    ]);
    stats = { ...base, sessionsUp: 1, labelChanges: 9, messagesSent: { keepalive: 12, 'label-mapping': 3 } };
    stale = false;
    const again = await reg.metrics();
    expect(again).toContain('fecflow_ldp_sessions_up 1\n');
    expect(again).toContain('fecflow_ldp_stale_labels 0\n');
    expect(again).toContain('fecflow_ldp_label_changes_total 9\n');
    expect(again).toContain('fecflow_ldp_messages_sent_total{type="keepalive"} 12\n');
    stats = undefined;
    expect(await reg.metrics()).toContain('fecflow_ldp_sessions_up 0\n');
  });
});
