// One writer per node. The daemon holds an exclusive lock on its node's state directory and on
// its pin directory for as long as it runs; a second `fecflow serve` for the same node (or a
// `detach --offline`) finds the lock taken and stops before it touches a pin or a map.
//
// The lock is SQLite's own file lock (fcntl) on a small lock file, held by a connection in
// exclusive locking mode: the kernel releases it when the process dies, even by kill -9, so a
// crashed daemon never leaves a stale lock behind. The holder's PID is written beside it so the
// refusal can name it. bpffs holds no regular files, so the pin directory's lock lives under
// /run/fecflow, named after the pin directory's path.
import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

export class LockError extends Error {
  override readonly name = 'LockError';
  constructor(
    message: string,
    readonly holder: number | undefined,
  ) {
    super(message);
  }
}

/** Where the lock of a pin directory lives (outside bpffs). */
export function pinLockPath(pinDir: string, runDir = process.env.FECFLOW_RUN_DIR ?? '/run/fecflow'): string {
  const h = createHash('sha256').update(resolve(pinDir)).digest('hex').slice(0, 16);
  return join(runDir, 'locks', `pins-${h}.lock`);
}

/** The state directory's lock file for a node. */
export function stateLockPath(stateDir: string, node: string): string {
  return join(stateDir, node, 'lock');
}

function holderOf(path: string): number | undefined {
  try {
    const pid = Number(readFileSync(`${path}.pid`, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Takes one lock file; throws LockError when another process holds it. */
function take(path: string, what: string): Database.Database {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const db = new Database(path, { timeout: 0 });
  try {
    db.pragma('locking_mode = EXCLUSIVE');
    db.pragma('journal_mode = DELETE');
    // An exclusive transaction takes the file lock; in exclusive locking mode it is kept after
    // the commit until the connection closes.
    db.exec('BEGIN EXCLUSIVE; COMMIT;');
  } catch (err) {
    db.close();
    const code = (err as { code?: string }).code;
    if (code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED') {
      const pid = holderOf(path);
      throw new LockError(`${what} is locked by another fecflow process${pid ? ` (PID ${pid})` : ''}: only one daemon may run per node; nothing was touched`, pid);
    }
    throw err;
  }
  writeFileSync(`${path}.pid`, `${process.pid}\n`, { mode: 0o644 });
  return db;
}

export class NodeLock {
  private constructor(private readonly held: Array<{ path: string; db: Database.Database }>) {}

  /**
   * Takes every lock in `locks` (all or none). `what` names each one for the error message.
   */
  static acquire(locks: Array<{ path: string; what: string }>): NodeLock {
    const held: Array<{ path: string; db: Database.Database }> = [];
    try {
      for (const l of locks) held.push({ path: l.path, db: take(l.path, l.what) });
    } catch (err) {
      for (const h of held) h.db.close();
      throw err;
    }
    return new NodeLock(held);
  }

  /** The locks a daemon takes for `node`: its state directory and its pin directory. */
  static forNode(o: { stateDir: string; pinDir: string; node: string }): NodeLock {
    return NodeLock.acquire([
      { path: stateLockPath(o.stateDir, o.node), what: `node '${o.node}' (state directory ${o.stateDir})` },
      { path: pinLockPath(o.pinDir), what: `node '${o.node}' (pin directory ${o.pinDir})` },
    ]);
  }

  /** Throws LockError when someone holds the lock at path; takes and drops it otherwise. */
  static check(path: string, what: string): void {
    take(path, what).close();
    rmSync(`${path}.pid`, { force: true });
  }

  release(): void {
    for (const h of this.held.splice(0)) {
      rmSync(`${h.path}.pid`, { force: true });
      h.db.close();
    }
  }
}
