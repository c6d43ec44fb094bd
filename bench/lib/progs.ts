// Builds the bench's own BPF programs (bench/progs/*.bpf.c) into build/bench-progs/ when a
// source is newer than its object, with the same flags as the data plane.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { arch } from 'node:os';
import { join } from 'node:path';

const ARCH_DIR: Record<string, string> = { x64: 'x86_64', arm64: 'aarch64' };

export function buildBenchProgs(root: string): string {
  const src = join(root, 'bench', 'progs');
  const out = join(root, 'build', 'bench-progs');
  mkdirSync(out, { recursive: true });
  const inc = `/usr/include/${ARCH_DIR[arch()] ?? arch()}-linux-gnu`;
  for (const f of readdirSync(src).filter((n) => n.endsWith('.bpf.c'))) {
    const obj = join(out, f.replace(/\.c$/, '.o'));
    if (existsSync(obj) && statSync(obj).mtimeMs >= statSync(join(src, f)).mtimeMs) continue;
    execFileSync('clang', ['-O2', '-g', '-target', 'bpf', '-Wall', '-Werror', `-I${inc}`, '-c', join(src, f), '-o', obj], { stdio: ['ignore', 'inherit', 'inherit'] });
  }
  return out;
}
