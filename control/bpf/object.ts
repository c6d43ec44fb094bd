// BpfObject: opens and loads an ELF object, then owns one Program per program and one BpfMap per
// map. With pinDir, maps are pinned there by name; with reusePinnedMaps a restarted daemon picks
// up the existing pins (and their contents) instead of creating fresh maps.
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { isBpffs } from './bpffs.js';
import { BpfError, PinnedMapMismatchError, call } from './errors.js';
import { BpfMap } from './map.js';
import { native, type NativeFd, type NativeObjectHandle, type NativeObjectMap } from './native.js';
import { Program } from './program.js';

export interface OpenOptions {
  /** Directory on bpffs where every (non-internal) map is pinned under its own name. */
  pinDir?: string;
  /** Reuse maps already pinned in pinDir (their definition must match); else an existing pin is an error. */
  reusePinnedMaps?: boolean;
}

export class BpfObject {
  readonly path: string;
  readonly pinDir: string | undefined;
  /** Names of the maps that were reused from existing pins rather than created. */
  readonly reusedMaps: readonly string[];
  #programs: Map<string, Program>;
  #maps: Map<string, BpfMap>;
  #closed = false;

  private constructor(path: string, pinDir: string | undefined, programs: Map<string, Program>, maps: Map<string, BpfMap>, reused: string[]) {
    this.path = path;
    this.pinDir = pinDir;
    this.#programs = programs;
    this.#maps = maps;
    this.reusedMaps = reused;
  }

  /** Opens and loads the object at path. A verifier rejection throws VerifierError. */
  static open(path: string, opts: OpenOptions = {}): BpfObject {
    const handle = call(() => new (native().BpfObjectHandle)(path, {}));
    const programs = new Map<string, Program>();
    const maps = new Map<string, BpfMap>();
    try {
      const defs = handle.maps();
      const reused = opts.pinDir ? preparePins(handle, defs, opts.pinDir, opts.reusePinnedMaps ?? false) : [];
      call(() => handle.load());
      for (const p of handle.programs()) programs.set(p.name, new Program(call(() => handle.programFd(p.name)), p.name));
      for (const m of handle.maps()) {
        const pinPath = m.pinPath ?? (reused.includes(m.name) ? join(opts.pinDir!, m.name) : undefined);
        maps.set(m.name, new BpfMap(call(() => handle.mapFd(m.name)), m.name, { pinPath }));
      }
      return new BpfObject(path, opts.pinDir, programs, maps, reused);
    } catch (e) {
      for (const p of programs.values()) p.close();
      for (const m of maps.values()) m.close();
      throw e;
    } finally {
      // Everything needed is now owned by Program and BpfMap; libbpf's copies go.
      handle.close();
    }
  }

  #check(): void {
    if (this.#closed) throw new BpfError(`BpfObject ${this.path}`, 9, 'EBADF', 'object is closed');
  }

  program(name: string): Program {
    this.#check();
    const p = this.#programs.get(name);
    if (!p) throw new BpfError('BpfObject.program', 2, 'ENOENT', `no program '${name}' in ${this.path}; known programs: ${[...this.#programs.keys()].join(', ') || '(none)'}`);
    return p;
  }

  map(name: string): BpfMap {
    this.#check();
    const m = this.#maps.get(name);
    if (!m) throw new BpfError('BpfObject.map', 2, 'ENOENT', `no map '${name}' in ${this.path}; known maps: ${[...this.#maps.keys()].join(', ') || '(none)'}`);
    return m;
  }

  programs(): Program[] {
    this.#check();
    return [...this.#programs.values()];
  }

  maps(): BpfMap[] {
    this.#check();
    return [...this.#maps.values()];
  }

  /** Removes the pins of this object's maps (the maps live on while anything holds them). */
  unpinMaps(): void {
    for (const m of this.#maps.values()) m.unpin();
  }

  /** Closes every program and map descriptor of the object (once). Pinned maps stay pinned. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const p of this.#programs.values()) p.close();
    for (const m of this.#maps.values()) m.close();
  }
}

// Points libbpf at pinDir/<map> for each map; libbpf then reuses an existing pin or pins the new
// map at load. Existing pins are checked here first so that a mismatch gets a clear error.
function preparePins(handle: NativeObjectHandle, defs: NativeObjectMap[], pinDir: string, reuse: boolean): string[] {
  mkdirSync(pinDir, { recursive: true });
  if (!isBpffs(pinDir)) throw new BpfError('BpfObject.open', 22, 'EINVAL', `pinDir ${pinDir} is not on a BPF filesystem (mount -t bpf bpf /sys/fs/bpf)`);
  const reused: string[] = [];
  for (const def of defs) {
    if (def.internal) continue;
    const path = join(pinDir, def.name);
    if (existsSync(path)) {
      if (!reuse) {
        throw new BpfError('BpfObject.open', 17, 'EEXIST', `map '${def.name}' is already pinned at ${path}; pass reusePinnedMaps to keep it, or remove the pin`);
      }
      // Reuse by descriptor rather than through libbpf's pin path: libbpf 1.1 compares map
      // flags literally and refuses every pinned devmap (the kernel adds BPF_F_RDONLY_PROG).
      const fd = openPinned(path, def);
      try {
        call(() => handle.mapReuseFd(def.name, fd));
      } finally {
        fd.close();
      }
      reused.push(def.name);
      continue;
    }
    call(() => handle.mapSetPinPath(def.name, path));
  }
  return reused;
}

/** A map of the object whose pin under pinDir it cannot adopt, and why. */
export interface PinnedMapChange {
  name: string;
  differences: string[];
  /** what the object wants, and what is pinned (undefined when the pin is not a map) */
  wanted: { typeName: string; keySize: number; valueSize: number; maxEntries: number };
  pinned?: { typeName: string; keySize: number; valueSize: number; maxEntries: number };
}

/**
 * The maps of the object at path that are pinned under pinDir with another definition (type,
 * key or value size, max_entries, flags): what an upgrade across a layout change must rebuild.
 * Reads only; loads nothing and touches no pin.
 */
export function pinnedMapChanges(path: string, pinDir: string): PinnedMapChange[] {
  const handle = call(() => new (native().BpfObjectHandle)(path, {}));
  try {
    const out: PinnedMapChange[] = [];
    for (const def of handle.maps()) {
      const pin = join(pinDir, def.name);
      if (def.internal || !existsSync(pin)) continue;
      const wanted = { typeName: def.typeName, keySize: def.keySize, valueSize: def.valueSize, maxEntries: def.maxEntries };
      try {
        openPinned(pin, def).close();
      } catch (e) {
        if (!(e instanceof PinnedMapMismatchError)) throw e;
        let pinned: PinnedMapChange['pinned'];
        try {
          const fd = call(() => native().objGet(pin));
          try {
            const i = call(() => native().mapGetInfo(fd));
            pinned = { typeName: i.typeName, keySize: i.keySize, valueSize: i.valueSize, maxEntries: i.maxEntries };
          } finally {
            fd.close();
          }
        } catch {
          pinned = undefined; // not a map at all
        }
        out.push({ name: def.name, differences: e.differences, wanted, pinned });
      }
    }
    return out;
  } finally {
    handle.close();
  }
}

const BPF_F_RDONLY_PROG = 1 << 7;
const KERNEL_RDONLY_PROG_TYPES = new Set(['devmap', 'devmap_hash', 'cpumap']);

/** Opens the pin at path and checks it can stand for the object's map def. */
function openPinned(path: string, def: NativeObjectMap): NativeFd {
  const fd = call(() => native().objGet(path));
  try {
    const kind = call(() => native().fdKind(fd));
    if (kind !== 'map') throw new PinnedMapMismatchError(path, [`pin is a ${kind}, not a map`]);
    const info = call(() => native().mapGetInfo(fd));
    const diffs: string[] = [];
    const cmp = (what: string, pinned: number | string, wanted: number | string) => {
      if (pinned !== wanted) diffs.push(`${what}: pinned ${pinned}, object ${wanted}`);
    };
    cmp('type', info.typeName, def.typeName);
    cmp('key_size', info.keySize, def.keySize);
    cmp('value_size', info.valueSize, def.valueSize);
    cmp('max_entries', info.maxEntries, def.maxEntries);
    // The kernel adds BPF_F_RDONLY_PROG to every devmap it creates; the object cannot ask for it.
    const kernelAdded = KERNEL_RDONLY_PROG_TYPES.has(def.typeName) ? BPF_F_RDONLY_PROG : 0;
    cmp('map_flags', info.flags & ~kernelAdded, def.flags);
    if (diffs.length) throw new PinnedMapMismatchError(path, diffs);
    return fd;
  } catch (e) {
    fd.close();
    throw e;
  }
}
