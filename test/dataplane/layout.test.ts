// The contract check: every struct of dataplane/fecflow_shared.h as the compiler laid it out
// (read from the object's BTF) against the TypeScript codecs of control/tables/layout.ts, member
// by member; the maps' key and value sizes against the codecs; and Tables <-> encoded entries.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DROP_REASONS as REASON_NAMES, FF_SKIP_SUB_VLAN, MAPS, SHARED_STRUCTS, decodeTables, encodeTables, ffSkipTrie, sameConfigValue, settingsCodec } from '../../control/tables/layout.js';
import { DROP_REASONS, emptyTables, type Tables } from '../../control/tables/types.js';
import { describeRoot } from '../helpers/root.js';
import { Dataplane, OBJECT } from './harness.js';

interface BtfType {
  id: number;
  kind: string;
  name?: string;
  size?: number;
  type_id?: number;
  nr_elems?: number;
  members?: Array<{ name: string; type_id: number; bits_offset: number }>;
  values?: Array<{ name: string; val: number }>;
}

function loadBtf(): Map<number, BtfType> {
  const out = execFileSync('bpftool', ['-j', 'btf', 'dump', 'file', OBJECT], { encoding: 'utf8', maxBuffer: 64 << 20 });
  const types = (JSON.parse(out) as { types: BtfType[] }).types;
  return new Map(types.map((t) => [t.id, t]));
}

function sizeOf(btf: Map<number, BtfType>, id: number): number {
  const t = btf.get(id)!;
  switch (t.kind) {
    case 'INT':
    case 'STRUCT':
    case 'UNION':
    case 'ENUM':
      return t.size!;
    case 'TYPEDEF':
    case 'CONST':
    case 'VOLATILE':
      return sizeOf(btf, t.type_id!);
    case 'ARRAY':
      return t.nr_elems! * sizeOf(btf, t.type_id!);
    default:
      throw new Error(`no size for BTF kind ${t.kind}`);
  }
}

const norm = (s: string) => s.replace(/_/g, '').toLowerCase();

describe('shared structs: TS codecs match the object BTF', () => {
  const have = existsSync(OBJECT);
  const btf = have ? loadBtf() : new Map<number, BtfType>();
  const structs = new Map([...btf.values()].filter((t) => t.kind === 'STRUCT' && t.name?.startsWith('ff_')).map((t) => [t.name!, t]));

  it('the object is built', () => expect(have, `${OBJECT} missing: make -C dataplane`).toBe(true));

  it('every ff_ struct of the object has a codec, and every codec a struct', () => {
    expect([...structs.keys()].sort()).toEqual(Object.keys(SHARED_STRUCTS).sort());
  });

  for (const [name, codec] of Object.entries(SHARED_STRUCTS)) {
    it(`${name}: size ${codec.size} and every member's offset and size`, () => {
      const s = structs.get(name);
      expect(s, `${name} not in BTF`).toBeDefined();
      expect(codec.size).toBe(s!.size);
      const members = s!.members!.map((m) => ({ name: m.name, offset: m.bits_offset / 8, size: sizeOf(btf, m.type_id) }));
      // C padding members (pad, and the kernel-owned bpf_spin_lock) are padding in the codec.
      const cView = members.map((m) => ({ name: /^pad|^lock$/.test(m.name) ? '(pad)' : norm(m.name), offset: m.offset, size: m.size }));
      const tsView = codec.fields.map((f) => ({ name: f.padding ? '(pad)' : norm(f.name), offset: f.offset, size: f.size }));
      expect(tsView).toEqual(cView);
    });
  }

  it('drop reasons: the TS names are enum ff_drop_reason of the shared header, in order', () => {
    // Enums that no map or function type uses are not in BTF, so this one is read from the header.
    const h = readFileSync(resolve(import.meta.dirname, '../../dataplane/fecflow_shared.h'), 'utf8');
    const body = /enum ff_drop_reason \{([^}]*)\}/.exec(h)![1]!;
    const c = [...body.matchAll(/FF_DROP_(\w+)\s*=\s*(\d+)/g)].filter((m) => m[1] !== 'MAX');
    expect(c.map((m) => m[1]!.toLowerCase())).toEqual([...DROP_REASONS]);
    expect(c.map((m) => Number(m[2]))).toEqual(DROP_REASONS.map((_, i) => i));
    expect(REASON_NAMES).toBe(DROP_REASONS);
  });
});

function sampleTables(): Tables {
  const t = emptyTables();
  t.settings = { ttlMode: 'pipe', unknownPolicy: 'pass' };
  t.subMac.set('02:00:00:00:00:0a', { isp: 1, ifindex: 3, outerVid: 100, innerVid: 7 });
  t.subVlan.push([{ ifindex: 3, outerVid: 100, innerVid: 7 }, 2]);
  t.subV4.set('100.64.0.0/24', { isp: 1, ifindex: 3, outerVid: 0, innerVid: 0 });
  t.subV6.set('2001:db8:1::/48', { isp: 2, ifindex: 5, outerVid: 10, innerVid: 0 });
  t.fecUp.set(1, { labels: [1000, 2000], tc: 5, nhGroup: 4 });
  t.nhGroups.set(4, { nexthops: [1, 2, 3] });
  t.nexthops.set(1, { ifindex: 3, mtu: 1500, vid: 0, dmac: '02:00:00:00:00:01', smac: '02:00:00:00:00:02' });
  t.txPorts.add(3);
  t.ilm.set(5000, { action: 'swap', labels: [1, 5001], tc: 1, nhGroup: 4 });
  t.ilm.set(5001, { action: 'swap', labels: [5009], tc: 0, nhGroup: 4, isp: 2, direction: 'down' });
  t.ilm.set(5002, { action: 'pop-forward', nhGroup: 4 });
  t.ilm.set(5006, { action: 'pop-forward', nhGroup: 4, isp: 1, direction: 'up' });
  t.ilm.set(5003, { action: 'pop-continue' });
  t.ilm.set(5004, { action: 'pop-to-isp', isp: 1, nhGroup: 4 });
  t.ilm.set(5005, { action: 'pop-to-sub', isp: 2 });
  const route = { ifindex: 3, mtu: 1500, outerTpid: 0x88a8, outerVid: 100, innerVid: 7, dmac: '02:00:00:00:00:0a', smac: '02:00:00:00:00:02' };
  t.downV4.push([{ isp: 2, prefix: '100.64.0.5/32' }, route]);
  t.downV6.push([{ isp: 2, prefix: '2001:db8:1::/48' }, route]);
  t.ispPorts.push([{ ifindex: 4, vid: 20 }, 1]);
  t.ispRouteV4.push([{ isp: 1, prefix: '0.0.0.0/0' }, { labels: [3000], tc: 0, nhGroup: 4 }]);
  t.ispRouteV6.push([{ isp: 1, prefix: '::/0' }, { labels: [3001, 3002, 3003], tc: 0, nhGroup: 4 }]);
  t.local.add('192.0.2.1');
  t.local.add('2001:db8::1');
  t.policers.set(3, { rate: 125000n, burst: 15000n });
  return t;
}

describe('Tables <-> encoded map entries', () => {
  it('round-trips every table', () => {
    const t = sampleTables();
    expect(decodeTables(encodeTables(t))).toEqual(t);
  });

  it('encodes every config map, empty ones too, and clears prefix host bits', () => {
    const t = emptyTables();
    t.subV4.set('100.64.1.77/23', { isp: 1, ifindex: 7, outerVid: 300, innerVid: 22 });
    const enc = encodeTables(t);
    for (const [name, l] of Object.entries(MAPS)) expect(enc.has(name)).toBe(l.kind === 'config');
    // the table's longest prefix length goes to its exact-match hash, with the same key; the
    // value is the ISP, the subscriber's line (ifindex, outer and inner VLAN id) and its meter
    // word (0: not metered)
    const [[k, v]] = enc.get('sub_v4_exact')!;
    expect(k!.toString('hex')).toBe('17000000' + '64400000');
    expect(v!.toString('hex')).toBe('01000000' + '07000000' + '2c01' + '1600' + '00000000');
    expect(enc.get('sub_v4')).toEqual([]);
  });

  it('splits each prefix table: its longest prefixes into the hash, the rest into the trie, and says so in settings', () => {
    const t = emptyTables();
    const on = (isp: number) => ({ isp, ifindex: 3, outerVid: 0, innerVid: 0 });
    t.subV4.set('100.64.0.1/32', on(1));
    t.subV4.set('100.64.0.2/32', on(2));
    t.subV4.set('100.65.0.0/16', on(3));
    t.subV6.set('2001:db8:1:2::/64', on(1));
    t.subMac.set('02:00:00:00:00:0a', on(1));
    t.downV4.push([{ isp: 2, prefix: '100.64.0.5/32' }, { ifindex: 3, mtu: 1500, outerTpid: 0, outerVid: 0, innerVid: 0, dmac: '02:00:00:00:00:0a', smac: '02:00:00:00:00:02' }]);
    t.ispRouteV4.push([{ isp: 1, prefix: '0.0.0.0/0' }, { labels: [3000], tc: 0, nhGroup: 4 }]);
    const enc = encodeTables(t);
    const keys = (m: string) => enc.get(m)!.map(([k]) => k.toString('hex'));
    expect(keys('sub_v4_exact')).toEqual(['20000000' + '64400001', '20000000' + '64400002']);
    expect(keys('sub_v4')).toEqual(['10000000' + '64410000']);
    expect(keys('sub_v6_exact')).toEqual(['40000000' + '20010db800010002' + '0000000000000000']);
    expect(keys('sub_v6')).toEqual([]);
    expect(keys('down_v4_exact')).toEqual(['40000000' + '02000000' + '64400005']);
    // a table of only /0 has no exact-match part
    expect(keys('isp_route_v4_exact')).toEqual([]);
    expect(keys('isp_route_v4')).toEqual(['20000000' + '01000000' + '00000000']);
    const [[, sv]] = enc.get('settings')!;
    const s = settingsCodec.decode(sv!);
    expect(s.exactLen).toEqual([32, 64, 32, 0, 0, 0]);
    // skipped: sub_vlan, and the tries of sub_v6, down_v4, down_v6, isp_route_v6
    expect(s.skip).toBe(FF_SKIP_SUB_VLAN | ffSkipTrie('sub_v6') | ffSkipTrie('down_v4') | ffSkipTrie('down_v6') | ffSkipTrie('isp_route_v6'));
    expect(s.skip).toBe(0b1011_1010);
    expect(decodeTables(enc)).toEqual(t);
  });

  it('writes a full bucket for a policer and compares policers on rate and burst only', () => {
    const t = emptyTables();
    t.policers.set(3, { rate: 1000n, burst: 3000n });
    const [[, v]] = encodeTables(t).get('policer')!;
    expect(v!.readBigUInt64LE(24)).toBe(3000n); // tokens = burst
    const used = Buffer.from(v!);
    used.writeBigUInt64LE(5n, 24);
    used.writeBigUInt64LE(123456789n, 32);
    expect(sameConfigValue('policer', v!, used)).toBe(true);
    expect(sameConfigValue('fec_up', v!, used)).toBe(false);
  });
});

describeRoot('map definitions of the loaded object', () => {
  it('every map exists with the key and value size of its codec', () => {
    const dp = Dataplane.open();
    try {
      expect(dp.obj.maps().map((m) => m.name).filter((n) => !n.startsWith('.')).sort()).toEqual(Object.keys(MAPS).sort());
      for (const l of Object.values(MAPS)) {
        const m = dp.map(l.name);
        expect([l.name, m.keySize, m.valueSize]).toEqual([l.name, l.key.size, l.value.size]);
      }
    } finally {
      dp.close();
    }
  });
});
