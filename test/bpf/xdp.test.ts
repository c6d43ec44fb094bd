// XDP attachment on veths in network namespaces the test builds: traffic seen by the program's
// counter, atomic replacement, detach, netlink attach, native→generic fallback, live frames, and
// a pinned link outliving the process that made it. Traffic only flows between the namespaces.
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { BpfError, BpfObject, XdpLink, ifindexOf, struct, u32, u64, withNetns, xdpQuery, type PerCpuTypedMap } from '../../control/bpf/index.js';
import { Lab, inNetns, macOf, ping, sh, uniqueName } from '../helpers/netns.js';
import { describeRoot } from '../helpers/root.js';
import { pinDir, prog, runChild } from './fixtures.js';

const counters = struct({ packets: u64, bytes: u64 });

describeRoot('XDP attach on veths in namespaces', () => {
  const lab = new Lab();
  const pins = pinDir();
  let nsA = '';
  let nsB = '';
  let vethA = '';
  let vethB = '';
  let obj: BpfObject;
  let count: PerCpuTypedMap<number, { packets: bigint; bytes: bigint }>;
  // A /24 inside the two namespaces only; the host never routes it.
  const net = `10.${200 + (process.pid % 50)}.${Math.floor(Math.random() * 250)}`;
  const addrB = `${net}.2`;

  const packets = (slot: number) => count.getSummed(slot)!.packets;
  const inB = <T>(fn: () => T): T => withNetns(nsB, fn);

  beforeAll(() => {
    try {
      nsA = lab.netns('ffa', { ipv6: false });
      nsB = lab.netns('ffb', { ipv6: false });
      [vethA, vethB] = lab.veth(nsA, nsB, { addrA: `${net}.1/24`, addrB: `${addrB}/24` });
      obj = BpfObject.open(prog('counter'));
      count = obj.map('counter').typedPerCpu(u32, counters);
    } catch (e) {
      lab.cleanup();
      throw e;
    }
  });

  afterAll(() => {
    obj?.close();
    lab.cleanup();
    pins.remove();
  });

  it('counts traffic after a bpf_link attach, replaces the program atomically, then detaches', async () => {
    const a = obj.program('xdp_count_a');
    const b = obj.program('xdp_count_b');
    const link = inB(() => a.attachXdp(vethB, { mode: 'auto' }));
    try {
      // veth has native XDP, so 'auto' must not have fallen back.
      expect(link.mode).toBe('native');
      expect(link.via).toBe('link');
      const q = inB(() => xdpQuery(vethB));
      expect(q).toMatchObject({ mode: 'native', progId: a.info().id, nativeProgId: a.info().id, genericProgId: 0 });
      const info = link.info();
      expect(info.progId).toBe(a.info().id);
      expect(info.ifindex).toBe(inB(() => ifindexOf(vethB)));
      expect(info.id).toBeGreaterThan(0);

      const a0 = packets(0);
      expect(ping(nsA, addrB, 5)).toBe(true);
      expect(packets(0) - a0).toBeGreaterThanOrEqual(5n);

      // Replace a by b while a flood ping runs: every echo request is seen by one of the two.
      const before = packets(0) + packets(1);
      const flood = spawn('ip', ['netns', 'exec', nsA, 'ping', '-i', '0.001', '-c', '1000', '-W', '1', '-q', addrB], { stdio: 'ignore' });
      const exited = new Promise<number>((resolve) => flood.on('exit', (c) => resolve(c ?? -1)));
      await new Promise((r) => setTimeout(r, 300));
      link.update(b);
      expect(await exited).toBe(0);
      expect(packets(0) + packets(1) - before).toBeGreaterThanOrEqual(1000n);
      expect(packets(1)).toBeGreaterThan(0n);
      expect(link.info()).toMatchObject({ id: info.id, progId: b.info().id });
      expect(inB(() => xdpQuery(vethB)).progId).toBe(b.info().id);

      const a1 = packets(0);
      const b1 = packets(1);
      expect(ping(nsA, addrB, 3)).toBe(true);
      expect(packets(0)).toBe(a1);
      expect(packets(1) - b1).toBeGreaterThanOrEqual(3n);

      link.detach();
      expect(link.closed).toBe(true);
      expect(inB(() => xdpQuery(vethB))).toMatchObject({ mode: 'none', progId: 0, progIds: [] });
      expect(() => link.info()).toThrow(expect.objectContaining({ code: 'EBADF' }));
    } finally {
      link.close();
    }
  });

  it('detaches a bpf_link when its last descriptor closes, unless pinned', () => {
    const link = inB(() => obj.program('xdp_count_a').attachXdp(vethB));
    link.close();
    link.close();
    expect(inB(() => xdpQuery(vethB)).mode).toBe('none');
  });

  it('attaches in generic mode through netlink, replaces with XDP_FLAGS_REPLACE and detaches', () => {
    const a = obj.program('xdp_count_a');
    const b = obj.program('xdp_count_b');
    const link = inB(() => a.attachXdp(vethB, { mode: 'generic', via: 'netlink' }));
    try {
      expect(link.mode).toBe('generic');
      expect(inB(() => xdpQuery(vethB))).toMatchObject({ mode: 'generic', genericProgId: a.info().id });
      // A second netlink attach never silently replaces the first.
      expect(() => inB(() => b.attachXdp(vethB, { mode: 'generic', via: 'netlink' }))).toThrow(BpfError);
      const a0 = packets(0);
      expect(ping(nsA, addrB, 3)).toBe(true);
      expect(packets(0) - a0).toBeGreaterThanOrEqual(3n);
      expect(() => link.pin(`${pins.dir}/nl`)).toThrow(expect.objectContaining({ code: 'EOPNOTSUPP' }));
      link.update(b);
      expect(link.info().progId).toBe(b.info().id);
      expect(inB(() => xdpQuery(vethB)).genericProgId).toBe(b.info().id);
      const b0 = packets(1);
      expect(ping(nsA, addrB, 3)).toBe(true);
      expect(packets(1) - b0).toBeGreaterThanOrEqual(3n);
      link.detach();
      expect(inB(() => xdpQuery(vethB)).mode).toBe('none');
    } finally {
      link.close();
      try {
        inB(() => sh('ip', ['link', 'set', 'dev', vethB, 'xdpgeneric', 'off']));
      } catch {
        // already detached
      }
    }
  });

  it("falls back to generic mode in 'auto' where the driver has no native XDP", () => {
    // A bridge has no driver-level XDP (no ndo_bpf); dummy is not built into this kernel.
    const dummy = uniqueName('ffd');
    inNetns(nsB, 'ip', ['link', 'add', dummy, 'type', 'bridge']);
    const a = obj.program('xdp_count_a');
    expect(() => inB(() => a.attachXdp(dummy, { mode: 'native' }))).toThrow(expect.objectContaining({ code: 'EOPNOTSUPP', op: 'bpf_link_create' }));
    const link = inB(() => a.attachXdp(dummy, { mode: 'auto' }));
    try {
      expect(link.mode).toBe('generic');
      expect(inB(() => xdpQuery(dummy)).mode).toBe('generic');
    } finally {
      link.detach();
      inNetns(nsB, 'ip', ['link', 'delete', dummy]);
    }
  });

  it('transmits live test frames out of a veth into the peer namespace', () => {
    const rx = inB(() => obj.program('xdp_count_a').attachXdp(vethB));
    try {
      // An Ethernet frame of a local experimental ethertype to vethB: counted there, then
      // ignored by the stack.
      const frame = Buffer.concat([
        Buffer.from(macOf(vethB, nsB).replace(/:/g, ''), 'hex'),
        Buffer.from(macOf(vethA, nsA).replace(/:/g, ''), 'hex'),
        Buffer.from('88b5', 'hex'),
        Buffer.alloc(46, 0x5a),
      ]);
      const rx0 = packets(0);
      const tx0 = packets(2);
      const ifindexA = withNetns(nsA, () => ifindexOf(vethA));
      withNetns(nsA, () => obj.program('xdp_count_tx').testRun({ data: frame, repeat: 500, liveFrames: true, ingressIfindex: ifindexA }));
      expect(packets(2) - tx0).toBe(500n);
      const got = packets(0) - rx0;
      expect(got).toBeGreaterThanOrEqual(500n);
      expect(got).toBeLessThan(520n);
    } finally {
      rx.close();
    }
  });

  it('keeps a pinned link attached after the process that made it exits', () => {
    mkdirSync(pins.dir, { recursive: true });
    const path = `${pins.dir}/link`;
    const child = runChild('attach-pin-link.mjs', { object: prog('counter'), ifname: vethB, pin: path }, { netns: nsB }) as {
      progId: number;
      linkId: number;
      ifindex: number;
    };
    try {
      const q = inB(() => xdpQuery(vethB));
      expect(q).toMatchObject({ mode: 'native', progId: child.progId });
      const link = inB(() => XdpLink.fromPin(path));
      expect(link.mode).toBe('native');
      expect(link.info()).toEqual({ id: child.linkId, progId: child.progId, ifindex: child.ifindex });
      link.detach();
      expect(link.unpin()).toBe(true);
      expect(inB(() => xdpQuery(vethB)).mode).toBe('none');
    } finally {
      sh('rm', ['-f', path]);
    }
  });
});
