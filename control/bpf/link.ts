// XDP attachments. via 'link' creates a bpf_link (owned by its descriptor or a pin, replaced
// atomically with bpf_link_update); via 'netlink' uses the older netlink attach, which stays on
// the interface until detached and is replaced atomically with XDP_FLAGS_REPLACE.
import { removePin } from './bpffs.js';
import { BpfError, call, closedError } from './errors.js';
import { k, native, type NativeFd } from './native.js';
import { currentNetns, withNetnsFd } from './netns.js';
import type { Program } from './program.js';

export type XdpMode = 'native' | 'generic';

export interface XdpAttachOptions {
  /** 'auto' (default) tries native, then generic. */
  mode?: 'auto' | XdpMode;
  /** 'link' (default): a bpf_link; 'netlink': the classic attach. */
  via?: 'link' | 'netlink';
}

export interface XdpLinkInfo {
  /** bpf_link id; undefined for netlink attachments. */
  id: number | undefined;
  progId: number;
  ifindex: number;
}

export interface XdpQueryResult {
  /** 'none' when nothing is attached; 'multi' when programs of several modes are. */
  mode: 'none' | 'native' | 'generic' | 'hw' | 'multi';
  /** The attached program, when exactly one is attached (0 otherwise). */
  progId: number;
  /** Every attached program id. */
  progIds: number[];
  nativeProgId: number;
  genericProgId: number;
  hwProgId: number;
}

/** Interface index of a name (or the number itself) in the current network namespace. */
export function ifindexOf(ifindexOrName: number | string): number {
  if (typeof ifindexOrName === 'number') return ifindexOrName;
  return call(() => native().ifNameToIndex(ifindexOrName));
}

function modeFlag(mode: XdpMode): number {
  return mode === 'native' ? k('XDP_FLAGS_DRV_MODE') : k('XDP_FLAGS_SKB_MODE');
}

// The driver does not do native XDP: try generic instead. Anything else (EBUSY, EEXIST,
// EPERM) is a real error and is not papered over.
const NATIVE_UNSUPPORTED = new Set(['EOPNOTSUPP', 'ENOTSUPP', 'EINVAL']);

/** What is attached at an interface (bpf_xdp_query). */
export function xdpQuery(ifindexOrName: number | string): XdpQueryResult {
  const ifindex = ifindexOf(ifindexOrName);
  const q = call(() => native().xdpQuery(ifindex));
  const modes: Record<number, XdpQueryResult['mode']> = {
    [k('XDP_ATTACHED_NONE')]: 'none',
    [k('XDP_ATTACHED_DRV')]: 'native',
    [k('XDP_ATTACHED_SKB')]: 'generic',
    [k('XDP_ATTACHED_HW')]: 'hw',
    [k('XDP_ATTACHED_MULTI')]: 'multi',
  };
  const ids = [q.drvProgId, q.skbProgId, q.hwProgId].filter((x) => x !== 0);
  return {
    mode: modes[q.attachMode] ?? 'none',
    progId: q.progId || (ids.length === 1 ? ids[0]! : 0),
    progIds: ids.length ? ids : q.progId ? [q.progId] : [],
    nativeProgId: q.drvProgId,
    genericProgId: q.skbProgId,
    hwProgId: q.hwProgId,
  };
}

/** @internal used by Program.attachXdp. */
export function attachXdp(program: Program, ifindexOrName: number | string, opts: XdpAttachOptions): XdpLink {
  const ifindex = ifindexOf(ifindexOrName);
  const via = opts.via ?? 'link';
  const requested = opts.mode ?? 'auto';
  if (!['auto', 'native', 'generic'].includes(requested)) throw new TypeError(`attachXdp: unknown mode '${requested}'`);
  if (via !== 'link' && via !== 'netlink') throw new TypeError(`attachXdp: unknown via '${String(via)}'`);
  const tries: XdpMode[] = requested === 'auto' ? ['native', 'generic'] : [requested];
  let lastError: unknown;
  for (const mode of tries) {
    try {
      if (via === 'link') {
        const fd = call(() => native().linkCreate(program.handle(), ifindex, k('BPF_XDP'), modeFlag(mode)));
        return new XdpLink({ via, mode, ifindex, fd });
      }
      // UPDATE_IF_NOEXIST: never silently replace someone else's program; use update() for that.
      call(() => native().xdpAttach(ifindex, program.handle(), modeFlag(mode) | k('XDP_FLAGS_UPDATE_IF_NOEXIST')));
      return new XdpLink({ via, mode, ifindex, progId: program.info().id, netns: currentNetns() });
    } catch (e) {
      lastError = e;
      if (!(requested === 'auto' && mode === 'native' && e instanceof BpfError && NATIVE_UNSUPPORTED.has(e.code))) throw e;
    }
  }
  throw lastError;
}

interface XdpLinkInit {
  via: 'link' | 'netlink';
  mode: XdpMode | 'unknown';
  ifindex: number;
  fd?: NativeFd;
  progId?: number;
  /** Network namespace of a netlink attachment: its ifindex only means something there. */
  netns?: NativeFd;
}

export class XdpLink {
  readonly via: 'link' | 'netlink';
  /** The attach mode in effect ('unknown' for a link reopened from a pin in another netns). */
  readonly mode: XdpMode | 'unknown';
  readonly ifindex: number;
  #fd: NativeFd | undefined;
  #netns: NativeFd | undefined;
  #progId: number;
  #open = true;
  #pinnedAt: string | undefined;

  /** @internal created by Program.attachXdp or XdpLink.fromPin. */
  constructor(init: XdpLinkInit) {
    this.via = init.via;
    this.mode = init.mode;
    this.ifindex = init.ifindex;
    this.#fd = init.fd;
    this.#netns = init.netns;
    this.#progId = init.progId ?? 0;
  }

  /** Reopens a pinned XDP bpf_link (e.g. one a previous daemon left behind). */
  static fromPin(path: string): XdpLink {
    const fd = call(() => native().objGet(path));
    let info;
    try {
      const kind = call(() => native().fdKind(fd));
      if (kind !== 'link') throw new BpfError('XdpLink.fromPin', 22, 'EINVAL', `${path} is a pinned ${kind}, not a link`);
      info = call(() => native().linkGetInfo(fd));
      if (info.typeName !== 'xdp') throw new BpfError('XdpLink.fromPin', 22, 'EINVAL', `${path} is a ${info.typeName} link, not an XDP link`);
    } catch (e) {
      fd.close();
      throw e;
    }
    let mode: XdpMode | 'unknown' = 'unknown';
    try {
      const q = xdpQuery(info.ifindex ?? 0);
      if (q.nativeProgId === info.progId) mode = 'native';
      else if (q.genericProgId === info.progId) mode = 'generic';
    } catch {
      // the interface is in another network namespace: the mode cannot be seen from here
    }
    const link = new XdpLink({ via: 'link', mode, ifindex: info.ifindex ?? 0, fd });
    link.#pinnedAt = path;
    return link;
  }

  get closed(): boolean {
    return !this.#open;
  }

  /** The bpf_link descriptor (via 'link' only). */
  get fd(): number {
    return this.#linkFd().fd;
  }

  #check(): void {
    if (!this.#open) throw closedError(`XDP link on ifindex ${this.ifindex}`);
  }

  #linkFd(): NativeFd {
    this.#check();
    if (!this.#fd) throw new BpfError('XdpLink', 95, 'EOPNOTSUPP', 'a netlink attachment has no link descriptor');
    return this.#fd;
  }

  info(): XdpLinkInfo {
    this.#check();
    if (this.via === 'link') {
      const i = call(() => native().linkGetInfo(this.#linkFd()));
      return { id: i.id, progId: i.progId, ifindex: i.ifindex ?? this.ifindex };
    }
    return { id: undefined, progId: this.#progId, ifindex: this.ifindex };
  }

  /** Pins the link so the attachment outlives this process (via 'link' only). */
  pin(path: string): void {
    if (this.via === 'netlink') {
      throw new BpfError('XdpLink.pin', 95, 'EOPNOTSUPP', 'netlink attachments already persist on the interface; only bpf_links can be pinned');
    }
    call(() => native().objPin(this.#linkFd(), path));
    this.#pinnedAt = path;
  }

  /** Removes the pin; works after close() too. True if a pin was removed. */
  unpin(): boolean {
    const path = this.#pinnedAt;
    if (!path) return false;
    this.#pinnedAt = undefined;
    return removePin(path);
  }

  get pinPath(): string | undefined {
    return this.#pinnedAt;
  }

  /** Atomically replaces the attached program: traffic never sees the interface without one. */
  update(program: Program): void {
    this.#check();
    if (this.via === 'link') {
      call(() => native().linkUpdate(this.#linkFd(), program.handle()));
      return;
    }
    const old = call(() => native().progGetFdById(this.#progId));
    try {
      const flags = (this.mode === 'native' ? modeFlag('native') : modeFlag('generic')) | k('XDP_FLAGS_REPLACE');
      this.#inNetns(() => call(() => native().xdpAttach(this.ifindex, program.handle(), flags, old)));
    } finally {
      old.close();
    }
    this.#progId = program.info().id;
  }

  // Netlink calls name the interface by ifindex, which is only meaningful in the namespace the
  // program was attached in; go back there whatever namespace the caller is in now.
  #inNetns<T>(fn: () => T): T {
    return this.#netns ? withNetnsFd(this.#netns, fn) : fn();
  }

  /** Detaches the program from the interface and closes this handle. */
  detach(): void {
    this.#check();
    try {
      if (this.via === 'link') {
        call(() => native().linkDetach(this.#linkFd()));
      } else {
        const old = call(() => native().progGetFdById(this.#progId));
        try {
          // REPLACE with the expected program: detach only if ours is still the one attached.
          const flags = (this.mode === 'native' ? modeFlag('native') : modeFlag('generic')) | k('XDP_FLAGS_REPLACE');
          this.#inNetns(() => call(() => native().xdpDetach(this.ifindex, flags, old)));
        } finally {
          old.close();
        }
      }
    } finally {
      this.close();
    }
  }

  /**
   * Releases this handle. A bpf_link that is not pinned is detached by the kernel when its last
   * descriptor closes; a netlink attachment stays on the interface.
   */
  close(): void {
    this.#open = false;
    const fd = this.#fd;
    const ns = this.#netns;
    this.#fd = undefined;
    this.#netns = undefined;
    fd?.close();
    ns?.close();
  }
}
