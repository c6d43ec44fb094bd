// The subscriber fast path against the full path: two daemons over the same config, one with
// the pipeline's fast path (only the changed subscribers checked, compiled and written against
// the reconciler's shadow), one that validates, compiles and reconciles the whole config for
// every edit. A seeded random sequence of assigns, moves, removes and imports — overlapping
// prefixes of different ISPs, duplicate MACs, unknown ISPs and interfaces, subscribers with a
// delivery — goes to both through the API: every answer (status, issues, map writes per table)
// and every map must be the same, and the fast path's tables must equal a fresh compile.
import { afterEach, describe, expect, it } from 'vitest';
import { compile } from '../../control/compile/index.js';
import { validateConfig } from '../../control/config/index.js';
import { HostEnv } from '../../control/daemon/netenv.js';
import { encodeTables } from '../../control/tables/layout.js';
import type { Tables } from '../../control/tables/types.js';
import { call, startHarness, type Harness } from '../api/fakes.js';
import { Prng } from '../differential/prng.js';

const CONFIG = `node: test
interfaces:
  - name: acc
    role: access
  - name: core
    role: core
    neighbours:
      lsr: "02:00:00:00:00:99"
isps:
  - { id: 1, name: alpha, upstream: { labels: [100], nexthop: { interface: core, neighbour: lsr } } }
  - { id: 2, name: beta, upstream: { labels: [200], nexthop: { interface: core, neighbour: lsr } } }
  - { id: 3, name: gamma, upstream: { labels: [300], nexthop: { interface: core, neighbour: lsr } } }
subscribers:
  - { name: s1, isp: alpha, match: { mac: "02:00:00:00:00:01" } }
  - { name: net, isp: alpha, match: { prefix: 100.64.0.0/16 } }
  - name: home
    isp: beta
    match: { vlan: { interface: acc, outer: 10 }, prefix: [10.0.0.0/24, "2001:db8:1::/48"] }
    deliver: { mac: "02:00:00:00:aa:01" }
  - { name: b24, isp: beta, match: { prefix: [100.65.1.0/24] } }
  - { name: host, isp: gamma, match: { prefix: 100.66.0.1/32 } }
ilm:
  - { label: 1000, action: pop-forward, nexthop: { interface: core, neighbour: lsr } }
`;

const MACS = ['02:00:00:00:00:01', '02:00:00:00:00:02', '02:00:00:00:00:03', '02:00:00:00:00:04'];
const PREFIXES = [
  '100.64.0.0/16',
  '100.64.1.0/24',
  '100.64.1.5/32',
  '100.64.2.0/24',
  '100.65.1.0/24',
  '100.65.1.7/32',
  '100.66.0.1/32',
  '100.66.0.0/24',
  '10.0.0.0/24',
  '10.0.0.9/32',
  '2001:db8:1::/48',
  '2001:db8:1:2::/64',
  '2001:db8::1/128',
];
const ISPS = ['alpha', 'beta', 'gamma', 'alpha', 'beta', 'gamma', 'nobody'];

function randomMatch(r: Prng): Record<string, unknown> {
  switch (r.int(3)) {
    case 0:
      return { mac: r.pick(MACS) };
    case 1:
      return { vlan: { interface: r.chance(0.9) ? 'acc' : 'core', outer: r.range(10, 12), ...(r.chance(0.3) ? { inner: r.range(1, 2) } : {}) } };
    default:
      return { prefix: r.pick(PREFIXES) };
  }
}

function randomOp(r: Prng): [string, string, unknown] {
  const kind = r.weighted<string>([
    [4, 'move'],
    [3, 'assign'],
    [2, 'remove'],
    [1, 'import'],
  ]);
  switch (kind) {
    case 'move':
      return ['POST', '/v1/subscribers/move', { subscriber: { ...randomMatch(r), isp: r.pick(ISPS) } }];
    case 'assign':
      return ['POST', '/v1/subscribers', { subscriber: { ...randomMatch(r), isp: r.pick(ISPS) } }];
    case 'remove':
      return ['POST', '/v1/subscribers/remove', { match: randomMatch(r) }];
    default: {
      const rows = Array.from({ length: r.range(1, 4) }, () => ({ ...randomMatch(r), isp: r.pick(ISPS.slice(0, 6)) }));
      return ['POST', '/v1/subscribers/import', { subscribers: rows, replace: r.chance(0.1) }];
    }
  }
}

/** Encoded tables as sorted 'map key=value' lines: order-free equality. */
function encoded(t: Tables): string[] {
  const out: string[] = [];
  for (const [map, entries] of encodeTables(t)) for (const [k, v] of entries) out.push(`${map} ${k.toString('hex')}=${v.toString('hex')}`);
  return out.sort();
}

const answer = (r: Awaited<ReturnType<typeof call>>) => ({
  status: r.status,
  error: r.json?.error ? { code: r.json.error.code, message: r.json.error.message, issues: r.json.error.issues } : undefined,
  changed: r.json?.changed,
  counts: r.json?.counts,
  summary: r.json?.summary,
});

describe('subscriber edits on the fast path', () => {
  let fast: Harness | undefined;
  let full: Harness | undefined;
  afterEach(async () => {
    await fast?.close();
    await full?.close();
  });

  for (const seed of [1, 2, 3]) {
    it(`equal the full path and a fresh compile over 120 random edits (seed ${seed})`, async () => {
      // without meter slots: which slot a new subscriber gets is the meter's choice, and the two
      // paths may choose differently after a replacing import (the meter's own tests cover slots)
      fast = await startHarness(CONFIG, { meter: false });
      full = await startHarness(CONFIG, { fastPath: false, meter: false });
      const env = new HostEnv(() => [
        { name: 'acc', ifindex: 2, mac: '02:00:00:00:01:01', mtu: 1500 },
        { name: 'core', ifindex: 3, mac: '02:00:00:00:01:02', mtu: 1500 },
      ]);
      const r = new Prng(seed);
      let accepted = 0;
      for (let i = 0; i < 120; i++) {
        const [method, path, body] = randomOp(r);
        const a = await call(fast, method, path, body);
        const b = await call(full, method, path, body);
        const what = `edit ${i}: ${method} ${path} ${JSON.stringify(body)}`;
        expect(answer(a), what).toEqual(answer(b));
        if (a.status === 200 || a.status === 201) accepted++;
        expect(fast.snapshot(), what).toBe(full.snapshot());
        const rawA = (await call(fast, 'GET', '/v1/config')).json.config;
        expect(rawA, what).toEqual((await call(full, 'GET', '/v1/config')).json.config);
        env.refresh();
        expect(encoded(fast.daemon.runningTables!), what).toEqual(encoded(compile(validateConfig(rawA), env)));
      }
      // the sequence exercised edits that were applied, edits the fast path planned (valid or
      // not), and edits it left to the full path (a table's longest prefix changed)
      expect(accepted).toBeGreaterThan(30);
      expect(fast.fast.planned).toBeGreaterThan(35);
      expect(fast.fast.declined).toBeGreaterThan(0);
    }, 60_000);
  }
});
