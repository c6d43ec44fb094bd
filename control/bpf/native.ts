// Loads the fecflow_bpf addon and describes its surface. Only control/bpf/ talks to it; the rest
// of fecflow uses the typed classes exported from index.ts.
import { createRequire } from 'node:module';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** A descriptor owned by the binding: closed once by close() or, if forgotten, by the GC. */
export interface NativeFd {
  readonly fd: number;
  readonly closed: boolean;
  /** Closes the descriptor; true if this call closed it, false if it was already closed. */
  close(): boolean;
}

export interface NativeObjectProgram {
  name: string;
  section: string;
  type: number;
  typeName: string;
  fd: number;
}

export interface NativeObjectMap {
  name: string;
  type: number;
  typeName: string;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags: number;
  internal: boolean;
  pinPath: string | null;
  fd: number;
}

export interface NativeObjectHandle {
  load(): void;
  programs(): NativeObjectProgram[];
  maps(): NativeObjectMap[];
  mapSetPinPath(name: string, path: string | null): void;
  mapReuseFd(name: string, fd: NativeFd): void;
  programFd(name: string): NativeFd;
  mapFd(name: string): NativeFd;
  close(): boolean;
}

export interface NativeMapInfo {
  id: number;
  type: number;
  typeName: string;
  name: string;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags: number;
  btfId: number;
}

export interface NativeProgInfo {
  id: number;
  type: number;
  typeName: string;
  name: string;
  tag: string;
  jitedProgLen: number;
  xlatedProgLen: number;
  verifiedInsns: number;
  nrMapIds: number;
  loadTimeNs: bigint;
  createdByUid: number;
}

export interface NativeLinkInfo {
  id: number;
  type: number;
  typeName: string;
  progId: number;
  ifindex?: number;
}

export interface NativeXdpQuery {
  progId: number;
  drvProgId: number;
  skbProgId: number;
  hwProgId: number;
  attachMode: number;
}

export interface NativeTestRunOptions {
  data: Buffer;
  ctx?: Buffer;
  dataOutSize?: number;
  repeat?: number;
  flags?: number;
  batchSize?: number;
  cpu?: number;
}

export interface NativeTestRunResult {
  retval: number;
  durationNs: number;
  data: Buffer | null;
  ctx: Buffer | null;
}

export interface NativeBinding {
  Fd: unknown;
  BpfObjectHandle: new (path: string, opts: { pinRootPath?: string }) => NativeObjectHandle;
  mapGeometry(fd: NativeFd): { type: number; keySize: number; valueSize: number; maxEntries: number; valueBufferSize: number };
  mapLookupElem(fd: NativeFd, key: Buffer | null, valueOut: Buffer, flags?: number): boolean;
  mapUpdateElem(fd: NativeFd, key: Buffer | null, value: Buffer, flags: number): void;
  mapDeleteElem(fd: NativeFd, key: Buffer | null): boolean;
  mapGetNextKey(fd: NativeFd, key: Buffer | null, nextKeyOut: Buffer): boolean;
  mapLookupBatch(fd: NativeFd, inBatch: Buffer | null, outBatch: Buffer, keys: Buffer, values: Buffer, count: number, elemFlags?: number): { count: number; done: boolean };
  mapUpdateBatch(fd: NativeFd, keys: Buffer, values: Buffer, count: number, elemFlags: number): number;
  mapDeleteBatch(fd: NativeFd, keys: Buffer, count: number): number;
  progTestRun(fd: NativeFd, opts: NativeTestRunOptions): NativeTestRunResult;
  progGetInfo(fd: NativeFd): NativeProgInfo;
  mapGetInfo(fd: NativeFd): NativeMapInfo;
  linkGetInfo(fd: NativeFd): NativeLinkInfo;
  linkCreate(progFd: NativeFd, target: number, attachType: number, flags: number): NativeFd;
  linkUpdate(linkFd: NativeFd, newProgFd: NativeFd, oldProgFd?: NativeFd): void;
  linkDetach(linkFd: NativeFd): void;
  xdpAttach(ifindex: number, progFd: NativeFd, flags: number, oldProgFd?: NativeFd): void;
  xdpDetach(ifindex: number, flags: number, oldProgFd?: NativeFd): void;
  xdpQuery(ifindex: number, flags?: number): NativeXdpQuery;
  objPin(fd: NativeFd, path: string): void;
  objGet(path: string): NativeFd;
  fdKind(fd: NativeFd): 'map' | 'prog' | 'link' | 'btf' | 'other';
  progGetFdById(id: number): NativeFd;
  mapGetFdById(id: number): NativeFd;
  linkGetFdById(id: number): NativeFd;
  numPossibleCpus(): number;
  ifNameToIndex(name: string): number;
  ifIndexToName(ifindex: number): string;
  openPath(path: string): NativeFd;
  setns(fd: NativeFd, nstype: number): void;
  /** setsockopt(2) with an int value on a descriptor owned elsewhere (not closed here) */
  setsockoptInt(fd: number, level: number, name: number, value: number): void;
  constants: Record<string, number>;
}

/** The repository root: the nearest ancestor directory whose package.json is named fecflow. */
export function repoRoot(from: string = dirname(fileURLToPath(import.meta.url))): string {
  let dir = from;
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'fecflow') return dir;
      } catch {
        // not ours; keep walking up
      }
    }
    const up = dirname(dir);
    if (up === dir) throw new Error(`fecflow: no package.json named fecflow above ${from}`);
    dir = up;
  }
}

/** Path of the compiled addon, build/Release/fecflow_bpf.node under the repository root. */
export function addonPath(): string {
  return join(repoRoot(), 'build', 'Release', 'fecflow_bpf.node');
}

let loaded: NativeBinding | undefined;

/** The addon, loaded on first use so that importing codecs never needs it. */
export function native(): NativeBinding {
  if (!loaded) {
    const path = addonPath();
    if (!existsSync(path)) {
      throw new Error(`fecflow: native addon missing at ${path}; build it with 'npx node-gyp rebuild'`);
    }
    loaded = createRequire(import.meta.url)(path) as NativeBinding;
  }
  return loaded;
}

/** Constant from the kernel/libbpf headers, as compiled into the addon. */
export function k(name: string): number {
  const v = native().constants[name];
  if (v === undefined) throw new Error(`fecflow: the addon has no constant ${name}`);
  return v;
}
