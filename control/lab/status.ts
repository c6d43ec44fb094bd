// `fecflow lab status` for people: the routers (PID, readiness, API socket, /metrics), the
// end-users with their ISP, and any namespace that is missing.
import type { LabStatus } from './lab.js';

export function formatStatus(s: LabStatus, table: (head: string[], rows: string[][]) => string): string {
  const out: string[] = [];
  const labels = s.ldp ? ', labels learned by LDP' : s.generation !== null ? `, label plan generation ${s.generation}` : '';
  out.push(`lab '${s.name}': ${s.up ? 'up' : 'not up'}${labels}\n`);
  out.push(
    table(
      ['router', 'namespace', 'pid', 'state', 'api socket', 'metrics'],
      s.routers.map((r) => [r.router, r.namespace, r.pid === null ? '-' : String(r.pid), r.ready ? 'ready' : r.running ? 'not ready' : 'stopped', r.socket ?? '-', r.metrics ?? '-']),
    ),
  );
  if (s.subscribers.length) out.push(table(['end-user', 'isp'], s.subscribers.map((u) => [u.name, u.isp])));
  const missing = s.namespaces.filter((n) => !n.present).map((n) => n.name);
  if (missing.length && missing.length < s.namespaces.length) out.push(`missing namespaces: ${missing.join(', ')}\n`);
  return out.join('');
}
