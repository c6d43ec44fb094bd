// The control plane's meter against a fake counter map and a real registry: slots per
// subscriber that survive restarts and follow moves, totals that only grow and are exact across
// resets, restarts and slot reuse, 64-bit arithmetic without BigInt, and readings written to the
// registry.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Registry } from '../../control/registry/registry.js';
import { USAGE_BYTES, UsageStore } from '../../control/registry/usage.js';
import { decodeUsage, foldCounters, Meter, MeterSlotsExhausted, type CounterSource, type MeterHost } from '../../control/daemon/meter.js';
import { TRAFFIC_TYPES, usageDelta, usageTotal, type SubscriberUsage, type TrafficType } from '../../control/daemon/usage.js';

/** A counter map in memory: slot -> 288 bytes, as sub_stats holds them (up, then down). */
class FakeCounters implements CounterSource {
  buf: Buffer;
  id = 'boot-a/1';
  reads = 0;
  constructor(readonly slots = 64) {
    this.buf = Buffer.alloc(slots * USAGE_BYTES);
  }
  identity(): string {
    return this.id;
  }
  read(from: number, count: number): Buffer {
    this.reads++;
    return Buffer.from(this.buf.subarray(from * USAGE_BYTES, (from + count) * USAGE_BYTES));
  }
  /** What the data plane does for a forwarded packet. */
  count(slot: number, dir: 'up' | 'down', type: TrafficType, packets: bigint, bytes: bigint): void {
    const o = slot * USAGE_BYTES + ((dir === 'up' ? 0 : 1) * TRAFFIC_TYPES.length + TRAFFIC_TYPES.indexOf(type)) * 16;
    this.buf.writeBigUInt64LE((this.buf.readBigUInt64LE(o) + packets) % 2n ** 64n, o);
    this.buf.writeBigUInt64LE((this.buf.readBigUInt64LE(o + 8) + bytes) % 2n ** 64n, o + 8);
  }
  /** The map recreated (reboot, layout change): empty, another identity. */
  recreate(id: string): void {
    this.buf = Buffer.alloc(this.slots * USAGE_BYTES);
    this.id = id;
  }
}

class FakeHost implements MeterHost {
  names = new Set<string>();
  provisioned(): Iterable<string> {
    return this.names;
  }
  provisionedCount(): number {
    return this.names.size;
  }
  async exclusive<T>(fn: () => T | Promise<T>): Promise<T> {
    return fn();
  }
}

const get = (u: SubscriberUsage | undefined, dir: 'up' | 'down', t: TrafficType) => {
  if (!u) throw new Error('no usage');
  return { packets: Number(u[dir][t].packets), bytes: Number(u[dir][t].bytes) };
};

let dir: string;
let reg: Registry;
let counters: FakeCounters;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'fecflow-meter-'));
  reg = Registry.open(join(dir, 'registry.sqlite'));
  counters = new FakeCounters();
});
afterEach(() => {
  reg.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A meter as serve makes one, with the given subscribers on the node and slots handed out. */
function openMeter(names: string[] = []): { meter: Meter; host: FakeHost; slots: Map<string, number> } {
  const meter = Meter.open(new UsageStore(reg), counters);
  const host = new FakeHost();
  meter.attach(host);
  const slots = new Map<string, number>();
  for (const n of names) {
    slots.set(n, meter.slotFor(n));
    host.names.add(n);
  }
  meter.flush();
  return { meter, host, slots };
}

/** Closes the registry and opens it again, as a daemon restart does. */
function restart(): void {
  reg.close();
  reg = Registry.open(join(dir, 'registry.sqlite'));
}

describe('meter slots', () => {
  it('hands out one slot per subscriber from 1, the same slot again, and records them', () => {
    const { meter, slots } = openMeter(['alice', 'bob']);
    expect([...slots.values()]).toEqual([1, 2]);
    expect(meter.slotFor('alice')).toBe(1);
    restart();
    const again = Meter.open(new UsageStore(reg), counters);
    expect(again.slotFor('bob')).toBe(2);
    expect(again.slotFor('carol')).toBe(3);
  });

  it('a slot a removed subscriber held goes to the next one only after its last counts are credited', async () => {
    const { meter, host, slots } = openMeter(['alice']);
    const s = slots.get('alice')!;
    counters.count(s, 'up', 'ipv4_tcp', 10n, 1000n);
    // alice leaves the node; what she sent before is still hers
    host.names.delete('alice');
    counters.count(s, 'up', 'ipv4_tcp', 1n, 100n); // in flight when her entries went
    await meter.read();
    expect(get(meter.current('alice'), 'up', 'ipv4_tcp')).toEqual({ packets: 11, bytes: 1100 });
    // bob gets the slot; the slot's old counts are not his
    expect(meter.slotFor('bob')).toBe(s);
    meter.flush();
    host.names.add('bob');
    counters.count(s, 'up', 'ipv4_udp', 2n, 200n);
    expect(get(meter.current('bob'), 'up', 'ipv4_tcp')).toEqual({ packets: 0, bytes: 0 });
    expect(get(meter.current('bob'), 'up', 'ipv4_udp')).toEqual({ packets: 2, bytes: 200 });
    expect(get(meter.current('alice'), 'up', 'ipv4_tcp')).toEqual({ packets: 11, bytes: 1100 });
    // alice coming back gets a slot again and keeps her totals
    const back = meter.slotFor('alice');
    meter.flush();
    host.names.add('alice');
    counters.count(back, 'down', 'ipv6_icmp', 3n, 300n);
    const a = meter.current('alice')!;
    expect(get(a, 'up', 'ipv4_tcp')).toEqual({ packets: 11, bytes: 1100 });
    expect(get(a, 'down', 'ipv6_icmp')).toEqual({ packets: 3, bytes: 300 });
  });

  it('keeps a subscriber\'s slot while it is on the node, whatever its ISP (a move is the same name)', async () => {
    const { meter, slots } = openMeter(['alice']);
    await meter.read();
    expect(meter.slotFor('alice')).toBe(slots.get('alice'));
    expect(meter.stats().slotsInUse).toBe(1);
  });

  it('gives the slots of a compile that was not applied back', () => {
    const { meter } = openMeter(['alice']);
    expect(meter.slotFor('typo')).toBe(2);
    meter.abandon();
    expect(meter.slotFor('bob')).toBe(2);
  });

  it('refuses a subscriber when every slot is taken (slot 0 is never handed out)', () => {
    counters = new FakeCounters(4);
    const { meter } = openMeter(['a', 'b', 'c']);
    expect(() => meter.slotFor('d')).toThrow(MeterSlotsExhausted);
  });
});

describe('readings', () => {
  it('totals by direction and type equal what the data plane counted, and the registry holds them', async () => {
    const { meter, slots } = openMeter(['alice', 'bob']);
    const a = slots.get('alice')!;
    const b = slots.get('bob')!;
    TRAFFIC_TYPES.forEach((t, i) => {
      counters.count(a, 'up', t, BigInt(i + 1), BigInt(100 * (i + 1)));
      counters.count(b, 'down', t, BigInt(2 * i + 1), BigInt(7 * i + 40));
    });
    const r = await meter.read();
    expect(r.changed).toBe(2);
    TRAFFIC_TYPES.forEach((t, i) => {
      expect(get(meter.current('alice'), 'up', t)).toEqual({ packets: i + 1, bytes: 100 * (i + 1) });
      expect(get(meter.current('bob'), 'down', t)).toEqual({ packets: 2 * i + 1, bytes: 7 * i + 40 });
      expect(get(meter.current('bob'), 'up', t)).toEqual({ packets: 0, bytes: 0 });
    });
    const row = new UsageStore(reg).row('alice')!;
    expect(decodeUsage(row.total)).toEqual(meter.current('alice'));
    expect(row.slot).toBe(a);
    // an idle reading writes nothing
    expect((await meter.read()).changed).toBe(0);
  });

  it('a restart loses nothing and counts nothing twice: counts made while no daemon ran are credited', async () => {
    let { meter, slots } = openMeter(['alice']);
    const s = slots.get('alice')!;
    counters.count(s, 'up', 'ipv4_udp', 5n, 500n);
    await meter.read();
    counters.count(s, 'up', 'ipv4_udp', 1n, 100n); // after the last reading, before the kill
    meter.stop();
    restart(); // kill -9: the in-memory state is gone, the pinned counters are not
    counters.count(s, 'up', 'ipv4_udp', 2n, 200n); // while no daemon ran
    ({ meter } = openMeter([]));
    expect(meter.slotFor('alice')).toBe(s);
    await meter.read();
    expect(get(meter.current('alice'), 'up', 'ipv4_udp')).toEqual({ packets: 8, bytes: 800 });
    restart();
    ({ meter } = openMeter([]));
    expect(get(meter.current('alice'), 'up', 'ipv4_udp')).toEqual({ packets: 8, bytes: 800 });
  });

  it('a counter map recreated (another identity) starts from zero against the stored totals', async () => {
    let { meter, slots } = openMeter(['alice']);
    const s = slots.get('alice')!;
    counters.count(s, 'down', 'ipv6_tcp', 50n, 5000n);
    await meter.read();
    restart();
    counters.recreate('boot-b/7'); // a reboot: the pins are gone, the registry is not
    counters.count(s, 'down', 'ipv6_tcp', 70n, 7000n); // more than before: a decrease check alone would miss it
    ({ meter } = openMeter(['alice']));
    await meter.read();
    expect(get(meter.current('alice'), 'down', 'ipv6_tcp')).toEqual({ packets: 120, bytes: 12000 });
  });

  it('a counter that went back (reset under the same identity) counts what it holds as new', async () => {
    const { meter, slots } = openMeter(['alice']);
    const s = slots.get('alice')!;
    counters.count(s, 'up', 'other', 10n, 1000n);
    await meter.read();
    counters.buf.fill(0);
    counters.count(s, 'up', 'other', 3n, 300n);
    await meter.read();
    expect(get(meter.current('alice'), 'up', 'other')).toEqual({ packets: 13, bytes: 1300 });
  });

  it('totals only grow across any sequence of counts, readings, restarts and resets', async () => {
    let seed = 12345;
    const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
    let { meter, host } = openMeter(['a', 'b', 'c']);
    const truth = new Map<string, bigint>([['a', 0n], ['b', 0n], ['c', 0n]]);
    let last = new Map<string, bigint>();
    for (let step = 0; step < 300; step++) {
      const name = ['a', 'b', 'c'][rnd(3)]!;
      const op = rnd(10);
      if (op < 6) {
        const n = BigInt(rnd(1000) + 1);
        counters.count(meter.slotFor(name), rnd(2) ? 'up' : 'down', TRAFFIC_TYPES[rnd(9)]!, 1n, n);
        truth.set(name, truth.get(name)! + n);
      } else if (op < 8) {
        await meter.read();
      } else if (op < 9) {
        await meter.read(); // serve's last reading on stop
        restart();
        ({ meter, host } = openMeter(['a', 'b', 'c']));
      } else {
        await meter.read(); // a layout change: the new map starts empty after the switch
        restart();
        counters.recreate(`boot/${step}`);
        ({ meter, host } = openMeter(['a', 'b', 'c']));
      }
      for (const n of ['a', 'b', 'c']) {
        const u = meter.current(n)!;
        const bytes = usageTotal(u, 'up').bytes + usageTotal(u, 'down').bytes;
        expect(bytes, `step ${step} ${n}`).toBeGreaterThanOrEqual(last.get(n) ?? 0n);
        expect(bytes, `step ${step} ${n}`).toBe(truth.get(n));
        last.set(n, bytes);
      }
    }
    void host;
  });

  it('a reading of many subscribers reads the counter map once', async () => {
    counters = new FakeCounters(2000);
    const names = Array.from({ length: 1500 }, (_, i) => `s${i}`);
    const { meter, slots } = openMeter(names);
    for (const [, s] of slots) counters.count(s, 'up', 'ipv4_tcp', 1n, 60n);
    const before = counters.reads;
    const r = await meter.read();
    expect(counters.reads - before).toBe(1);
    expect(r.changed).toBe(1500);
    const u0 = meter.current('s0')!;
    expect(usageDelta(u0, u0).up.ipv4_tcp).toEqual({ packets: 0n, bytes: 0n });
  });
});

describe('foldCounters', () => {
  const word = (b: Buffer, i: number) => b.readBigUInt64LE(i * 8);
  const set = (b: Buffer, i: number, v: bigint) => b.writeBigUInt64LE(v, i * 8);

  it('is exact across 32-bit carries and above 2^53', () => {
    const cases: Array<[bigint, bigint, bigint]> = [
      // [total, baseline, now]
      [0n, 0xffff_fff0n, 0x1_0000_0010n],
      [0xffff_ffffn, 0n, 1n],
      [2n ** 53n + 1n, 5n, 2n ** 60n + 7n],
      [2n ** 63n, 2n ** 40n - 1n, 2n ** 40n + 2n ** 33n],
      [123n, 2n ** 62n, 17n], // went back: all of now is new
    ];
    for (const [t0, b0, n0] of cases) {
      const total = Buffer.alloc(USAGE_BYTES);
      const raw = Buffer.alloc(USAGE_BYTES);
      const now = Buffer.alloc(USAGE_BYTES + 16);
      set(total, 3, t0);
      set(raw, 3, b0);
      set(now, 5, n0); // at offset 16: word 3 of the slot
      expect(foldCounters(total, raw, now, 16)).toBe(true);
      const want = n0 >= b0 ? t0 + (n0 - b0) : t0 + n0;
      expect(word(total, 3)).toBe(want % 2n ** 64n);
      expect(word(raw, 3)).toBe(n0);
      expect(foldCounters(total, raw, now, 16)).toBe(false);
    }
  });
});
