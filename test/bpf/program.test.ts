// Programs: kernel info, BPF_PROG_TEST_RUN with byte-exact output, verifier rejections.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { BpfError, BpfObject, Program, VerifierError, XdpAction, numPossibleCpus, struct, u32, u64 } from '../../control/bpf/index.js';
import { describeRoot } from '../helpers/root.js';
import { prog } from './fixtures.js';

// An Ethernet + IPv4 + UDP frame: dst 02:00:00:00:00:02, src 02:00:00:00:00:01.
const frame = Buffer.from(
  '020000000002' + '020000000001' + '0800' +
    '4500001c0001000040110000' + '0a000001' + '0a000002' +
    '303900350008' + '0000',
  'hex',
);

describeRoot('Program', () => {
  let rewrite: BpfObject;
  let counter: BpfObject;
  beforeAll(() => {
    rewrite = BpfObject.open(prog('rewrite'));
    counter = BpfObject.open(prog('counter'));
  });
  afterAll(() => {
    rewrite?.close();
    counter?.close();
  });

  it('reports id, tag, type and the verifier instruction count', () => {
    const p = rewrite.program('xdp_swap_macs');
    const info = p.info();
    expect(info.name).toBe('xdp_swap_macs');
    expect(info.typeName).toBe('xdp');
    expect(info.id).toBeGreaterThan(0);
    expect(info.tag).toMatch(/^[0-9a-f]{16}$/);
    expect(info.verifiedInsns).toBeGreaterThan(0);
    expect(info.xlatedSize).toBeGreaterThan(0);
    expect(info.jitedSize).toBeGreaterThan(0);
    expect(p.fd).toBeGreaterThan(2);
    expect(rewrite.programs().map((x) => x.name).sort()).toEqual(['xdp_push_marker', 'xdp_swap_macs']);
  });

  it('names the known programs when asked for a missing one', () => {
    expect(() => rewrite.program('xdp_nope')).toThrow(/no program 'xdp_nope' .*known programs: xdp_swap_macs, xdp_push_marker|known programs: xdp_push_marker, xdp_swap_macs/);
  });

  it('swaps the MAC addresses and returns XDP_TX, leaving the rest of the frame alone', () => {
    const r = rewrite.program('xdp_swap_macs').testRun({ data: frame });
    expect(r.retval).toBe(XdpAction.TX);
    const expected = Buffer.concat([frame.subarray(6, 12), frame.subarray(0, 6), frame.subarray(12)]);
    expect(r.data.toString('hex')).toBe(expected.toString('hex'));
    expect(r.durationNs).toBeGreaterThanOrEqual(0);
    // The input buffer is untouched: the kernel works on its own copy.
    expect(frame.subarray(0, 6).toString('hex')).toBe('020000000002');
  });

  it('returns a frame grown at the front by bpf_xdp_adjust_head', () => {
    const r = rewrite.program('xdp_push_marker').testRun({ data: frame });
    expect(r.retval).toBe(XdpAction.PASS);
    expect(r.data.length).toBe(frame.length + 4);
    expect(r.data.toString('hex')).toBe('deadbeef' + frame.toString('hex'));
  });

  it('refuses a test frame shorter than an Ethernet header with EINVAL', () => {
    expect(() => rewrite.program('xdp_swap_macs').testRun({ data: Buffer.alloc(10) })).toThrow(
      expect.objectContaining({ code: 'EINVAL', op: 'bpf_prog_test_run_opts', message: expect.stringMatching(/invalid argument \(EINVAL, errno 22\)/) }),
    );
  });

  it('runs repeat times and counts each run in the per-CPU counter', () => {
    const counters = counter.map('counter').typedPerCpu(u32, struct({ packets: u64, bytes: u64 }));
    const before = counters.getSummed(0)!;
    const r = counter.program('xdp_count_a').testRun({ data: frame, repeat: 1000, ingressIfindex: 1 });
    expect(r.retval).toBe(XdpAction.PASS);
    expect(r.data.toString('hex')).toBe(frame.toString('hex'));
    const after = counters.getSummed(0)!;
    expect(after.packets - before.packets).toBe(1000n);
    expect(after.bytes - before.bytes).toBe(1000n * BigInt(frame.length));
    expect(counters.get(0)).toHaveLength(numPossibleCpus());
  });

  it('runs live frames (BPF_F_TEST_XDP_LIVE_FRAMES) through the program', () => {
    const counters = counter.map('counter').typedPerCpu(u32, struct({ packets: u64, bytes: u64 }));
    const before = counters.getSummed(1)!;
    // xdp_count_b passes frames to the loopback stack, where this Ethernet frame to a foreign
    // MAC is dropped: nothing leaves the machine.
    const r = counter.program('xdp_count_b').testRun({ data: frame, repeat: 64, liveFrames: true, batchSize: 16, ingressIfindex: 1 });
    expect(r.data.length).toBe(0);
    expect(counters.getSummed(1)!.packets - before.packets).toBe(64n);
  });

  it('throws a closed-handle error after close, and close is idempotent', () => {
    const o = BpfObject.open(prog('rewrite'));
    const p = o.program('xdp_swap_macs');
    o.close();
    o.close();
    p.close();
    expect(p.closed).toBe(true);
    expect(() => p.testRun({ data: frame })).toThrow(expect.objectContaining({ code: 'EBADF' }));
    expect(() => o.program('xdp_swap_macs')).toThrow(/object is closed/);
  });

  it('pins a program and opens it again from the pin', () => {
    const path = `/sys/fs/bpf/fecflow-test-prog-${process.pid}`;
    const p = rewrite.program('xdp_push_marker');
    p.pin(path);
    try {
      const again = Program.fromPin(path);
      try {
        expect(again.info().id).toBe(p.info().id);
        expect(again.testRun({ data: frame }).data.subarray(0, 4).toString('hex')).toBe('deadbeef');
      } finally {
        again.close();
      }
    } finally {
      expect(p.unpin()).toBe(true);
    }
  });
});

describeRoot('verifier rejection', () => {
  it('throws VerifierError carrying the verifier log', () => {
    let err: unknown;
    try {
      BpfObject.open(prog('bad')).close();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(VerifierError);
    expect(err).toBeInstanceOf(BpfError);
    const v = err as VerifierError;
    expect(v.op).toBe('bpf_object__load');
    expect(v.code).toBe('EACCES');
    expect(v.program).toBe('xdp_oob_read');
    expect(v.log).toContain('invalid access to packet');
    expect(v.log).toMatch(/processed \d+ insns/);
    expect(v.message).toMatch(/verifier rejected program 'xdp_oob_read'/);
  });

  it('throws BpfError with ENOENT for a missing object file', () => {
    expect(() => BpfObject.open('/nonexistent/x.bpf.o')).toThrow(expect.objectContaining({ code: 'ENOENT', op: 'bpf_object__open_file' }));
  });
});
