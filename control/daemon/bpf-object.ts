// Opens the fecflow object with its maps pinned in one directory, reusing the pins left by an
// earlier daemon. A thin adapter over control/bpf: BpfObject.open's reuse goes through libbpf's
// pin-path reuse, which (libbpf 1.1) refuses a pinned DEVMAP_HASH because the kernel adds
// BPF_F_RDONLY_PROG to its flags. Here existing pins are handed to libbpf with
// bpf_map__reuse_fd instead, after our own compatibility check that ignores that one flag.
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { BpfMap, Program, PinnedMapMismatchError, isBpffs, BpfError } from '../bpf/index.js';
import { call } from '../bpf/errors.js';
import { native, type NativeFd, type NativeObjectMap } from '../bpf/native.js';

export interface LoadedObject {
  readonly reusedMaps: readonly string[];
  program(name: string): Program;
  map(name: string): BpfMap;
  maps(): BpfMap[];
  unpinMaps(): void;
  close(): void;
}

const BPF_F_RDONLY_PROG = 1 << 7;

export function openWithPins(path: string, pinDir: string): LoadedObject {
  mkdirSync(pinDir, { recursive: true });
  if (!isBpffs(pinDir)) throw new BpfError('open', 22, 'EINVAL', `${pinDir} is not on a BPF filesystem (mount -t bpf bpf /sys/fs/bpf)`);
  const handle = call(() => new (native().BpfObjectHandle)(path, {}));
  const programs = new Map<string, Program>();
  const maps = new Map<string, BpfMap>();
  const reusedFds: NativeFd[] = [];
  const reused: string[] = [];
  try {
    for (const def of handle.maps()) {
      if (def.internal) continue;
      const pin = join(pinDir, def.name);
      if (existsSync(pin)) {
        const fd = call(() => native().objGet(pin));
        reusedFds.push(fd);
        checkCompatible(pin, fd, def);
        call(() => handle.mapReuseFd(def.name, fd));
        reused.push(def.name);
      } else {
        call(() => handle.mapSetPinPath(def.name, pin));
      }
    }
    call(() => handle.load());
    for (const p of handle.programs()) programs.set(p.name, new Program(call(() => handle.programFd(p.name)), p.name));
    for (const m of handle.maps()) {
      const pin = m.internal ? undefined : join(pinDir, m.name);
      maps.set(m.name, new BpfMap(call(() => handle.mapFd(m.name)), m.name, { pinPath: pin }));
    }
  } catch (e) {
    for (const p of programs.values()) p.close();
    for (const m of maps.values()) m.close();
    throw e;
  } finally {
    for (const fd of reusedFds) fd.close();
    handle.close();
  }
  let closed = false;
  return {
    reusedMaps: reused,
    program(name) {
      const p = programs.get(name);
      if (!p || closed) throw new BpfError('program', 2, 'ENOENT', `no program '${name}' in ${path}`);
      return p;
    },
    map(name) {
      const m = maps.get(name);
      if (!m || closed) throw new BpfError('map', 2, 'ENOENT', `no map '${name}' in ${path}`);
      return m;
    },
    maps: () => [...maps.values()],
    unpinMaps() {
      for (const m of maps.values()) m.unpin();
    },
    close() {
      if (closed) return;
      closed = true;
      for (const p of programs.values()) p.close();
      for (const m of maps.values()) m.close();
    },
  };
}

function checkCompatible(pin: string, fd: NativeFd, def: NativeObjectMap): void {
  const kind = call(() => native().fdKind(fd));
  if (kind !== 'map') throw new PinnedMapMismatchError(pin, [`pin is a ${kind}, not a map`]);
  const info = call(() => native().mapGetInfo(fd));
  const diffs: string[] = [];
  const cmp = (what: string, pinned: number | string, wanted: number | string): void => {
    if (pinned !== wanted) diffs.push(`${what}: pinned ${pinned}, object ${wanted}`);
  };
  cmp('type', info.typeName, def.typeName);
  cmp('key_size', info.keySize, def.keySize);
  cmp('value_size', info.valueSize, def.valueSize);
  cmp('max_entries', info.maxEntries, def.maxEntries);
  const devmap = def.typeName.startsWith('devmap');
  cmp('map_flags', devmap ? info.flags & ~BPF_F_RDONLY_PROG : info.flags, def.flags);
  if (diffs.length) throw new PinnedMapMismatchError(pin, diffs);
}
