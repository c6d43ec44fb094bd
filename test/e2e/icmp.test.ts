// End to end, on a lab whose tailend links to the ISP hosts have an MTU of 1400: Debian's
// traceroute from an end-user's namespace shows every router on the way to its ISP's host
// (headend, LSR, tailend) by the address of the port the probe came in on, for IPv4 and IPv6 —
// the LSR's and the tailend's errors travel on along the LSP and are returned by its egress —
// and tracepath finds the path MTU of 1400 through the tailend. The routers count what they sent.
import { afterAll, beforeAll, expect, test } from 'vitest';
import { describeRoot } from '../helpers/root.js';
import { testLab } from '../helpers/traffic.js';
import type { Lab } from '../../control/lab/lab.js';
import { nsRun } from '../../control/lab/sys.js';
import { CORE_LINKS, ISP_PLAN, ROUTERS, USER_PLAN } from '../../control/lab/topology.js';

const ISP_MTU = 1400;

/** The hop addresses traceroute printed, in order ('*' for none). */
function hops(out: string): string[] {
  return out
    .split('\n')
    .slice(1)
    .map((l) => l.trim().split(/\s+/))
    .filter((w) => /^\d+$/.test(w[0] ?? ''))
    .map((w) => w[1]!);
}

describeRoot('e2e: ICMP errors — traceroute and path-MTU discovery through the lab', () => {
  const t = testLab({ ispMtu: ISP_MTU });
  let lab: Lab;

  beforeAll(async () => {
    lab = await t.up();
  }, 90_000);
  afterAll(async () => {
    await t.down();
  }, 60_000);

  const alice = () => lab.names.userNs('alice');
  const alpha = ISP_PLAN[USER_PLAN.alice.isp];
  const [heLsr, lsrTe] = CORE_LINKS;

  test('traceroute (UDP, IPv4) from alice shows the headend, the LSR, the tailend and her ISP\'s host', () => {
    const out = nsRun(alice(), 'traceroute', ['-n', '-q', '1', '-w', '2', '-m', '6', alpha.host.v4], { timeoutMs: 60_000 });
    expect(hops(out), out).toEqual([USER_PLAN.alice.gateway.v4, heLsr!.b.v4, lsrTe!.b.v4, alpha.host.v4]);
  });

  test('traceroute -6 shows the same hops by their IPv6 addresses', () => {
    const out = nsRun(alice(), 'traceroute', ['-6', '-n', '-q', '1', '-w', '2', '-m', '6', alpha.host.v6], { timeoutMs: 60_000 });
    expect(hops(out), out).toEqual([USER_PLAN.alice.gateway.v6, heLsr!.b.v6, lsrTe!.b.v6, alpha.host.v6]);
  });

  test(`tracepath finds the path MTU of ${ISP_MTU} at the tailend, over IPv4 and IPv6`, () => {
    for (const [flag, dst] of [['-4', alpha.host.v4], ['-6', alpha.host.v6]] as const) {
      const out = nsRun(alice(), 'tracepath', [flag, '-n', dst], { timeoutMs: 60_000 });
      expect(out, out).toMatch(new RegExp(`${lsrTe!.b[flag === '-4' ? 'v4' : 'v6'].replace(/\./g, '\\.')}\\s+\\S+ms pmtu ${ISP_MTU}`));
      expect(out, out).toMatch(new RegExp(`Resume: pmtu ${ISP_MTU} hops 4`));
    }
  });

  test('every router counted the errors it sent, none rate-limited or without a source', async () => {
    const sent: Record<string, bigint> = {};
    for (const r of ROUTERS) {
      const s = await lab.api(r).get<{ icmp: Array<Record<string, string>> }>('/v1/stats');
      for (const k of s.icmp) {
        sent[`${r}/${k.kind}`] = BigInt(k.sent!);
        expect(k.rate_limited, `${r} ${k.kind}`).toBe('0');
        expect(k.no_source, `${r} ${k.kind}`).toBe('0');
      }
    }
    for (const r of ROUTERS) {
      expect(sent[`${r}/time_exceeded_v4`], r).toBeGreaterThan(0n);
      expect(sent[`${r}/time_exceeded_v6`], r).toBeGreaterThan(0n);
    }
    expect(sent['tailend/frag_needed']).toBeGreaterThan(0n);
    expect(sent['tailend/packet_too_big']).toBeGreaterThan(0n);
  });
});
