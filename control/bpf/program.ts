// Program: one owned program descriptor — info, BPF_PROG_TEST_RUN and XDP attachment.
import { removePin } from './bpffs.js';
import { adoptFd } from './fd.js';
import { BpfError, call, closedError } from './errors.js';
import { attachXdp, type XdpAttachOptions, type XdpLink } from './link.js';
import { k, native, type NativeFd } from './native.js';

/** XDP return codes. */
export const XdpAction = { ABORTED: 0, DROP: 1, PASS: 2, TX: 3, REDIRECT: 4 } as const;
export type XdpActionName = keyof typeof XdpAction;

export interface ProgramInfo {
  id: number;
  name: string;
  /** Eight-byte tag (hex) of the program's instructions. */
  tag: string;
  type: number;
  /** libbpf's name for the type, e.g. 'xdp'. */
  typeName: string;
  /** Instructions the verifier processed. */
  verifiedInsns: number;
  /** Size of the JIT-compiled image in bytes. */
  jitedSize: number;
  /** Size of the translated (post-verifier) instructions in bytes. */
  xlatedSize: number;
}

export interface TestRunOptions {
  /** The frame given to the program. */
  data: Buffer;
  /** Ingress interface seen by the program (xdp_md.ingress_ifindex); must exist in this netns. */
  ingressIfindex?: number;
  /** RX queue seen by the program (xdp_md.rx_queue_index). */
  rxQueueIndex?: number;
  /** Run the program this many times (each run sees the frame the previous one left). */
  repeat?: number;
  /** BPF_F_TEST_XDP_LIVE_FRAMES: the frames are really transmitted, redirected or passed up. */
  liveFrames?: boolean;
  /** Frames per batch with liveFrames. */
  batchSize?: number;
  /** Room for the output frame; data length + 4096 by default. */
  dataOutSize?: number;
}

export interface TestRunResult {
  /** The program's return value (for XDP, an XdpAction). */
  retval: number;
  /** The frame after the program (empty with liveFrames, where nothing is copied back). */
  data: Buffer;
  /** Average run time per repetition, in nanoseconds. */
  durationNs: number;
}

export class Program {
  readonly name: string;
  readonly type: number;
  readonly typeName: string;
  #fd: NativeFd | undefined;
  #pinnedAt: string | undefined;

  /** Takes ownership of fd, which must be a program descriptor. */
  constructor(fd: NativeFd, name?: string) {
    const info = adoptFd(fd, 'prog', 'Program', (f) => native().progGetInfo(f));
    this.#fd = fd;
    // The kernel truncates names to 15 characters; the object's name is the full one.
    this.name = name ?? info.name;
    this.type = info.type;
    this.typeName = info.typeName;
  }

  static fromPin(path: string): Program {
    const p = new Program(call(() => native().objGet(path)));
    p.#pinnedAt = path;
    return p;
  }

  static fromId(id: number): Program {
    return new Program(call(() => native().progGetFdById(id)));
  }

  get fd(): number {
    return this.handle().fd;
  }

  get closed(): boolean {
    return this.#fd === undefined;
  }

  /** @internal the owned descriptor, for other control/bpf classes. */
  handle(): NativeFd {
    if (!this.#fd) throw closedError(`program '${this.name}'`);
    return this.#fd;
  }

  info(): ProgramInfo {
    const i = call(() => native().progGetInfo(this.handle()));
    return {
      id: i.id,
      name: i.name,
      tag: i.tag,
      type: i.type,
      typeName: i.typeName,
      verifiedInsns: i.verifiedInsns,
      jitedSize: i.jitedProgLen,
      xlatedSize: i.xlatedProgLen,
    };
  }

  /** Runs the program on a frame with BPF_PROG_TEST_RUN. */
  testRun(opts: TestRunOptions): TestRunResult {
    const { data } = opts;
    if (!Buffer.isBuffer(data)) throw new TypeError('testRun: data must be a Buffer');
    let ctx: Buffer | undefined;
    if (opts.ingressIfindex !== undefined || opts.rxQueueIndex !== undefined) {
      // struct xdp_md: data, data_end, data_meta, ingress_ifindex, rx_queue_index, egress_ifindex.
      ctx = Buffer.alloc(24);
      ctx.writeUInt32LE(data.length, 4);
      ctx.writeUInt32LE(opts.ingressIfindex ?? 0, 12);
      ctx.writeUInt32LE(opts.rxQueueIndex ?? 0, 16);
    }
    const r = call(() =>
      native().progTestRun(this.handle(), {
        data,
        ctx,
        repeat: opts.repeat,
        flags: opts.liveFrames ? k('BPF_F_TEST_XDP_LIVE_FRAMES') : 0,
        batchSize: opts.batchSize,
        dataOutSize: opts.dataOutSize,
      }),
    );
    return { retval: r.retval, data: r.data ?? Buffer.alloc(0), durationNs: r.durationNs };
  }

  /**
   * Attaches to an interface of the current network namespace. mode 'auto' tries native (driver)
   * XDP and falls back to generic; the returned link's mode says which one it got.
   */
  attachXdp(ifindexOrName: number | string, opts: XdpAttachOptions = {}): XdpLink {
    return attachXdp(this, ifindexOrName, opts);
  }

  pin(path: string): void {
    call(() => native().objPin(this.handle(), path));
    this.#pinnedAt = path;
  }

  unpin(): boolean {
    const path = this.#pinnedAt;
    if (!path) return false;
    this.#pinnedAt = undefined;
    return removePin(path);
  }

  /** Closes the descriptor (once). An attached program stays loaded while its link holds it. */
  close(): void {
    const fd = this.#fd;
    this.#fd = undefined;
    fd?.close();
  }
}
