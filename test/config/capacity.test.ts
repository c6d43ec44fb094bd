// Whether a configuration fits the data plane's maps, with the real table sizes of
// dataplane/fecflow_shared.h: the entries counted per table are those the compiler writes, and
// a configuration past a table's size is refused by validation, naming the table and the size.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compile, staticEnv } from '../../control/compile/index.js';
import { CAPACITY, checkConfig, parseConfig, tableUsage, validateConfig } from '../../control/config/index.js';
import { FF_LOCAL_ENTRIES, FF_SUB_VLAN_ENTRIES } from '../../control/tables/shared.gen.js';
import { tableSizes } from '../../control/daemon/sizes.js';

const examples = join(import.meta.dirname, '../../deploy/examples');

function env(names: string[]) {
  return staticEnv(Object.fromEntries(names.map((n, i) => [n, { ifindex: 10 + i, mac: `02:00:00:00:ff:${(16 + i).toString(16)}` }])));
}

describe('tableUsage', () => {
  it('counts what the compiler writes, table by table, for every example', () => {
    for (const f of ['headend.yaml', 'lsr.yaml', 'tailend.yaml', 'small-site.yaml']) {
      const config = parseConfig(readFileSync(join(examples, f), 'utf8'));
      const t = compile(config, env(config.interfaces.map((i) => i.device)));
      const compiled: Record<string, number> = tableSizes(t);
      for (const u of tableUsage(config)) {
        if (u.table === 'isps') expect(u.entries, f).toBe(config.isps.length);
        else expect([f, u.table, u.entries]).toEqual([f, u.table, compiled[u.table]]);
      }
    }
  });

  it('gives each table its capacity from fecflow_shared.h', () => {
    const u = tableUsage(parseConfig('node: r1\n'));
    expect(u.find((x) => x.table === 'sub_vlan')).toEqual({ table: 'sub_vlan', entries: 0, capacity: FF_SUB_VLAN_ENTRIES, path: 'subscribers', what: 'subscribers matched by VLAN' });
    expect(CAPACITY.nexthop).toBe(65535); // id 0 is "none"
    expect(CAPACITY.isps).toBe(4095);
  });
});

describe('a configuration past a table size', () => {
  const withAddresses = (n: number) => ({
    node: 'r1',
    interfaces: [{ name: 'acc0', role: 'access', addresses: Array.from({ length: n }, (_, i) => `10.${i >> 8}.${i & 255}.1/32`) }],
  });

  it(`is refused at ${FF_LOCAL_ENTRIES + 1} local addresses and accepted at ${FF_LOCAL_ENTRIES}`, () => {
    expect(checkConfig(withAddresses(FF_LOCAL_ENTRIES)).issues).toEqual([]);
    const message = `${FF_LOCAL_ENTRIES + 1} the router's own addresses, but the data plane's local table holds at most ${FF_LOCAL_ENTRIES}: the configuration cannot fit`;
    expect(checkConfig(withAddresses(FF_LOCAL_ENTRIES + 1)).issues).toEqual([{ path: 'interfaces', message }]);
    // the daemon validates with validateConfig before it writes anything
    expect(() => validateConfig(withAddresses(FF_LOCAL_ENTRIES + 1))).toThrow(`interfaces: ${message}`);
  });
});
