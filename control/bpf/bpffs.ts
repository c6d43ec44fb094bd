// The BPF filesystem where maps and links are pinned.
import { execFileSync } from 'node:child_process';
import { mkdirSync, statfsSync, unlinkSync } from 'node:fs';

const BPF_FS_MAGIC = 0xcafe4a11;

export const DEFAULT_BPFFS = '/sys/fs/bpf';

/** True when path is on a mounted bpffs. */
export function isBpffs(path: string = DEFAULT_BPFFS): boolean {
  try {
    return statfsSync(path).type === BPF_FS_MAGIC;
  } catch {
    return false;
  }
}

/** Mounts bpffs at path when it is not mounted yet (needs root). */
export function ensureBpffs(path: string = DEFAULT_BPFFS): void {
  if (isBpffs(path)) return;
  mkdirSync(path, { recursive: true });
  execFileSync('mount', ['-t', 'bpf', 'bpf', path], { stdio: ['ignore', 'ignore', 'pipe'] });
  if (!isBpffs(path)) throw new Error(`bpffs: mounting at ${path} did not give a BPF filesystem`);
}

/** Removes a pin; false when it was already gone. */
export function removePin(path: string): boolean {
  try {
    unlinkSync(path);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw e;
  }
}
