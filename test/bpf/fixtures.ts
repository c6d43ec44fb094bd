// Shared setup of the binding tests: builds test/progs/ once, names the objects, and makes
// unique pin directories on bpffs that cleanup removes again.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ensureBpffs } from '../../control/bpf/index.js';
import { addonPath, repoRoot } from '../../control/bpf/native.js';
import { uniqueName } from '../helpers/netns.js';

export const root = repoRoot();
export const addon = addonPath();

let built = false;

/** Path of build/test-progs/<name>.bpf.o, (re)building the test programs on first use. */
export function prog(name: 'maps' | 'counter' | 'rewrite' | 'bad'): string {
  if (!built) {
    execFileSync('make', ['-s', '-C', join(root, 'test', 'progs')], { stdio: 'inherit' });
    built = true;
  }
  const path = join(root, 'build', 'test-progs', `${name}.bpf.o`);
  if (!existsSync(path)) throw new Error(`test program ${path} was not built`);
  return path;
}

/**
 * A fresh pin directory under /sys/fs/bpf and its remover. Nothing happens until dir is first
 * read (inside a test or hook), so suites skipped for lack of root never touch bpffs.
 */
export function pinDir(): { readonly dir: string; remove(): void } {
  const dir = `/sys/fs/bpf/fecflow-test-${uniqueName('')}`;
  let used = false;
  return {
    get dir() {
      if (!used) ensureBpffs();
      used = true;
      return dir;
    },
    remove() {
      // Pins are plain files on bpffs: removing them drops the kernel's reference.
      if (used) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Runs a child script from test/bpf/child/ with node; returns its parsed JSON stdout. */
export function runChild(script: string, args: Record<string, unknown>, opts: { netns?: string } = {}): unknown {
  const file = join(root, 'test', 'bpf', 'child', script);
  const node = process.execPath;
  const argv = [file, JSON.stringify({ addon, ...args })];
  const [cmd, cmdArgs] = opts.netns ? ['nsenter', [`--net=/run/netns/${opts.netns}`, node, ...argv]] : [node, argv];
  const out = execFileSync(cmd, cmdArgs as string[], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000 });
  return JSON.parse(out);
}

/** Count of this process's open descriptors. */
export function openFdCount(): number {
  return readdirSync('/proc/self/fd').length;
}
