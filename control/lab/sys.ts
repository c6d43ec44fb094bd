// Running system commands for the lab: `ip`, and programs inside a namespace through nsenter,
// which keeps the host's mounts (bpffs) where `ip netns exec` would remount /sys.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';

export class LabError extends Error {}

/** Runs a command and returns its stdout; a failure throws with the command and its stderr. */
export function run(cmd: string, args: readonly string[], opts: { input?: string; timeoutMs?: number } = {}): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', input: opts.input, timeout: opts.timeoutMs ?? 30_000, stdio: ['pipe', 'pipe', 'pipe'] });
  } catch (e) {
    const err = e as Error & { stderr?: string; stdout?: string; status?: number | null };
    throw new LabError(`${cmd} ${args.join(' ')} failed (status ${err.status ?? '?'}): ${(err.stderr || err.stdout || err.message).trim()}`);
  }
}

/** Like run, but a failure is ignored (cleanup paths that must never throw). */
export function tryRun(cmd: string, args: readonly string[]): boolean {
  try {
    execFileSync(cmd, args, { stdio: 'ignore', timeout: 30_000 });
    return true;
  } catch {
    return false;
  }
}

export const netnsPath = (ns: string): string => `/run/netns/${ns}`;

/** `ip` in a namespace (null: the host's). */
export function ip(ns: string | null, ...args: string[]): string {
  return run('ip', [...(ns ? ['-n', ns] : []), ...args]);
}

/** A program inside a namespace, with the host's mounts. */
export function nsRun(ns: string, cmd: string, args: readonly string[], opts?: { input?: string; timeoutMs?: number }): string {
  return run('nsenter', [`--net=${netnsPath(ns)}`, cmd, ...args], opts);
}

export function netnsExists(ns: string): boolean {
  return existsSync(netnsPath(ns));
}

/** The start time of a process (clock ticks since boot), to tell it from a later one that got
 * the same PID; undefined when there is no such process. */
export function processStartTime(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // comm may hold spaces and parentheses: the fields after it start after the last ')'
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(rest[19]);
  } catch {
    return undefined;
  }
}

/** True while the process that had this start time is alive (and not a zombie). */
export function processAlive(pid: number, startTime: number): boolean {
  if (processStartTime(pid) !== startTime) return false;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Sends a signal to the process we started (checked by its start time), waits for it to exit,
 * and kills it after graceMs. Never throws. Resolves true if it is gone. */
export async function stopProcess(pid: number, startTime: number, graceMs = 3000, signal: NodeJS.Signals = 'SIGTERM'): Promise<boolean> {
  if (!processAlive(pid, startTime)) return true;
  try {
    process.kill(pid, signal);
  } catch {
    return !processAlive(pid, startTime);
  }
  const until = Date.now() + graceMs;
  while (Date.now() < until) {
    if (!processAlive(pid, startTime)) return true;
    await sleep(25);
  }
  try {
    if (processAlive(pid, startTime)) process.kill(pid, 'SIGKILL');
  } catch {
    /* gone meanwhile */
  }
  for (let i = 0; i < 40 && processAlive(pid, startTime); i++) await sleep(25);
  return !processAlive(pid, startTime);
}
