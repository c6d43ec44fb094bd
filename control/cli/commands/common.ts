// Pieces several command modules share: printing the result of a change, reading input files,
// and the subscriber match flags.
import { readFileSync } from 'node:fs';
import { InvalidArgumentError, type Command } from 'commander';
import { CliError } from '../errors.js';
import { json, type Io } from '../output.js';

export interface ChangeResult {
  ok: boolean;
  dryRun: boolean;
  changed: boolean;
  counts: Record<string, { set: number; delete: number }>;
  plan: string;
  [k: string]: unknown;
}

export function writes(r: ChangeResult): { set: number; delete: number } {
  let set = 0;
  let del = 0;
  for (const c of Object.values(r.counts ?? {})) {
    set += c.set;
    del += c.delete;
  }
  return { set, delete: del };
}

/** Print what a change did (or would do, for --dry-run). */
export function printChange(io: Io, cmd: Command, r: ChangeResult, what: string): void {
  if (cmd.optsWithGlobals<{ json?: boolean }>().json) {
    io.out(json(r));
    return;
  }
  const w = writes(r);
  if (r.dryRun) {
    io.out(r.changed ? `${r.plan.trimEnd()}\n` : 'no changes\n');
    io.out(`dry run: ${what} would write ${w.set} and delete ${w.delete} map entries; nothing was changed\n`);
    return;
  }
  io.out(r.changed ? `${what}: ${w.set} map entries written, ${w.delete} deleted\n` : `${what}: no change to the tables\n`);
}

export function readInput(path: string): string {
  try {
    return path === '-' ? readFileSync(0, 'utf8') : readFileSync(path, 'utf8');
  } catch (err) {
    throw new CliError(`cannot read ${path}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
  }
}

export interface VlanArg {
  interface: string;
  outer: number;
  inner?: number;
}

/** 'eth1:100' or 'eth1:100:20' -> { interface, outer, inner } */
export function parseVlan(s: string): VlanArg {
  const m = /^([^:]+):(\d{1,4})(?::(\d{1,4}))?$/.exec(s);
  const bad = (why: string) => new InvalidArgumentError(`${why}; expected IF:OUTER[:INNER], e.g. eth1:100:20`);
  if (!m) throw bad(`'${s}' is not a VLAN match`);
  const outer = Number(m[2]);
  const inner = m[3] === undefined ? undefined : Number(m[3]);
  if (outer < 1 || outer > 4094 || (inner !== undefined && (inner < 1 || inner > 4094))) throw bad('VLAN ids are 1..4094');
  return inner === undefined ? { interface: m[1]!, outer } : { interface: m[1]!, outer, inner };
}

export function formatVlan(v: VlanArg): string {
  return `${v.interface}:${v.outer}${v.inner ? `:${v.inner}` : ''}`;
}

export interface MatchFlags {
  mac?: string;
  vlan?: VlanArg;
  prefix?: string;
}

export function addMatchOptions(c: Command): Command {
  return c
    .option('--mac <mac>', 'match the subscriber by source MAC address')
    .option('--vlan <if:outer[:inner]>', 'match by access port and VLAN tag(s)', parseVlan)
    .option('--prefix <prefix>', 'match by source IPv4/IPv6 prefix');
}

/** Exactly one of --mac, --vlan, --prefix, as the API's match object. */
export function matchFrom(cmd: Command, o: MatchFlags): Record<string, unknown> {
  const given = (['mac', 'vlan', 'prefix'] as const).filter((k) => o[k] !== undefined);
  if (given.length !== 1) cmd.error('error: give exactly one of --mac, --vlan, --prefix', { exitCode: 2, code: 'commander.usage' });
  const k = given[0]!;
  return { [k]: o[k] };
}
