// BpfError construction and the translation of the addon's errors.
import { describe, expect, it } from 'vitest';
import { BpfError, VerifierError, extractVerifierLog, fromNative } from '../../control/bpf/errors.js';
import { retryEnomem } from '../../control/bpf/map.js';

function nativeError(op: string, errno: number, code: string, extra: Record<string, unknown> = {}): Error {
  return Object.assign(new Error(`${op}: message (${code})`), { op, errno, code, ...extra });
}

describe('BpfError', () => {
  it('carries errno, code and op', () => {
    const e = new BpfError('bpf_map_update_elem', 17, 'EEXIST');
    expect(e).toBeInstanceOf(Error);
    expect([e.errno, e.code, e.op, e.name]).toEqual([17, 'EEXIST', 'bpf_map_update_elem', 'BpfError']);
    expect(e.message).toBe('bpf_map_update_elem: already exists (EEXIST, errno 17)');
  });

  it('says which privilege is missing on EPERM', () => {
    const e = fromNative(nativeError('bpf_object__load', 1, 'EPERM')) as BpfError;
    expect(e).toBeInstanceOf(BpfError);
    expect(e.code).toBe('EPERM');
    expect(e.message).toMatch(/CAP_BPF/);
    expect(e.message).toMatch(/CAP_NET_ADMIN/);
    expect(e.message).toMatch(/root/);
    expect(e.message).toMatch(/memlock|RLIMIT_MEMLOCK|locked-memory/i);
  });

  it('passes through errors that did not come from a BPF call', () => {
    const t = new TypeError('key must be a Buffer');
    expect(fromNative(t)).toBe(t);
  });

  it('keeps the partial count of a failed batch operation', () => {
    const e = fromNative(nativeError('bpf_map_delete_batch', 2, 'ENOENT', { count: 3 })) as BpfError & { count: number };
    expect(e.count).toBe(3);
  });
});

describe('VerifierError', () => {
  const libbpfLog = [
    "libbpf: prog 'xdp_oob_read': BPF program load failed: Permission denied",
    "libbpf: prog 'xdp_oob_read': -- BEGIN PROG LOAD LOG --",
    '0: R1=ctx() R10=fp0',
    '1: (71) r1 = *(u8 *)(r1 +100)',
    'invalid access to packet, off=100 size=1, R1(id=0,off=100,r=0)',
    '-- END PROG LOAD LOG --',
    "libbpf: prog 'xdp_oob_read': failed to load: -13",
  ].join('\n');

  it('is made from a load error whose log has a verifier section', () => {
    const e = fromNative(nativeError('bpf_object__load', 13, 'EACCES', { log: libbpfLog })) as VerifierError;
    expect(e).toBeInstanceOf(VerifierError);
    expect(e).toBeInstanceOf(BpfError);
    expect(e.program).toBe('xdp_oob_read');
    expect(e.log).toContain('invalid access to packet, off=100');
    expect(e.log).not.toContain('END PROG LOAD LOG');
    expect(e.message).toMatch(/verifier rejected program 'xdp_oob_read': invalid access to packet/);
  });

  it('is not made when there is no verifier section', () => {
    expect(extractVerifierLog('libbpf: elf: failed to open x.o: No such file')).toBeUndefined();
    const e = fromNative(nativeError('bpf_object__open_file', 2, 'ENOENT', { log: 'libbpf: failed' }));
    expect(e).not.toBeInstanceOf(VerifierError);
    expect(e).toBeInstanceOf(BpfError);
  });
});

describe('retryEnomem', () => {
  const enomem = () => new BpfError('bpf_map_update_elem', 12, 'ENOMEM');

  it('retries a transient ENOMEM and returns what the write returned', () => {
    let calls = 0;
    const v = retryEnomem(() => {
      if (++calls < 4) throw enomem();
      return 'written';
    });
    expect([v, calls]).toEqual(['written', 4]);
  });

  it('gives up on an ENOMEM that lasts and reports it', () => {
    let calls = 0;
    expect(() => retryEnomem(() => {
      calls++;
      throw enomem();
    })).toThrow(/ENOMEM/);
    expect(calls).toBeGreaterThan(5);
  });

  it('does not retry other errors', () => {
    let calls = 0;
    expect(() => retryEnomem(() => {
      calls++;
      throw new BpfError('bpf_map_update_elem', 7, 'E2BIG');
    })).toThrow(/E2BIG/);
    expect(calls).toBe(1);
  });
});
