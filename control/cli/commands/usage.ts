// `fecflow usage [--subscriber NAME] [--json]`: what each subscriber used, in packets and bytes
// up (from the end-user towards the ISP) and down, cumulative since the node first metered it.
// Without --subscriber the meter takes a reading first, so the list is as of now; bytes are the
// IP packets' lengths (IPv4 total length, IPv6 40 + payload length).
import type { Command } from 'commander';
import type { CommandModule } from '../context.js';
import { wantsJson } from '../context.js';
import { json, table } from '../output.js';
import { TRAFFIC_TYPES } from '../../daemon/usage.js';

const TYPES = TRAFFIC_TYPES;

interface Pc {
  packets: string;
  bytes: string;
}
interface UsageDoc {
  subscriber: string;
  slot?: number | null;
  readAt?: string;
  up: Record<string, Pc>;
  down: Record<string, Pc>;
}

function oneSubscriber(u: UsageDoc): string {
  const rows = [...TYPES, 'total'].map((t) => [t, u.up[t]?.packets ?? '0', u.up[t]?.bytes ?? '0', u.down[t]?.packets ?? '0', u.down[t]?.bytes ?? '0']);
  return `subscriber ${u.subscriber}\n${table(['type', 'up packets', 'up bytes', 'down packets', 'down bytes'], rows)}`;
}

function allSubscribers(list: UsageDoc[]): string {
  if (list.length === 0) return 'no metered subscribers\n';
  return table(
    ['subscriber', 'up packets', 'up bytes', 'down packets', 'down bytes', 'on node'],
    list.map((u) => [u.subscriber, u.up.total!.packets, u.up.total!.bytes, u.down.total!.packets, u.down.total!.bytes, u.slot === null ? 'no' : 'yes']),
  );
}

export const usageCommand: CommandModule = {
  register(program, ctx) {
    program
      .command('usage')
      .description('per-subscriber packets and bytes up and down, by traffic type (cumulative)')
      .option('-s, --subscriber <name>', 'one subscriber, by type')
      .option('--json', 'print JSON (counters as decimal strings)')
      .action(async (o: { subscriber?: string }, cmd: Command) => {
        const client = ctx.client(cmd);
        if (o.subscriber !== undefined) {
          const u = await client.get<UsageDoc>(`/v1/usage/${encodeURIComponent(o.subscriber)}`);
          ctx.io.out(wantsJson(cmd) ? json(u) : oneSubscriber(u));
          return;
        }
        const r = await client.get<{ at: string; subscribers: UsageDoc[] }>('/v1/usage?fresh=true');
        ctx.io.out(wantsJson(cmd) ? json(r) : allSubscribers(r.subscribers));
      });
  },
};
