// The registry on its own: durable settings, order, corruption and version refusal, online
// backup while writing, a million rows in one transaction, and all-or-nothing transactions.
import { mkdtempSync, rmSync, writeFileSync, readFileSync, openSync, writeSync, closeSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Registry, RegistryError, REGISTRY_VERSION, verifyRegistryFile } from '../../control/registry/registry.js';
import { LockError, NodeLock } from '../../control/registry/lock.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'fecflow-reg-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const actor = { name: 'admin', role: 'admin', request: 'r1', source: '127.0.0.1' };
const sub = (i: number, isp = 'alpha') => ({ name: `s${i}`, isp, match: { mac: `02:00:00:${((i >> 16) & 255).toString(16).padStart(2, '0')}:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}` } });

describe('registry', () => {
  it('is created in WAL mode with synchronous=FULL and the current schema', () => {
    const path = join(dir, 'n', 'registry.sqlite');
    Registry.open(path).close();
    const db = new Database(path, { readonly: true });
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('user_version', { simple: true })).toBe(REGISTRY_VERSION);
    db.close();
    const r = Registry.open(path);
    // synchronous is per connection: the registry sets FULL (2) on every open
    expect((r as unknown as { db: Database.Database }).db.pragma('synchronous', { simple: true })).toBe(2);
    r.close();
    expect(statSync(join(dir, 'n')).mode & 0o777).toBe(0o700);
  });

  it('keeps subscribers in the order they were first written; a replacement keeps its place', () => {
    const path = join(dir, 'registry.sqlite');
    const r = Registry.open(path);
    r.transaction(() => r.writeSubscribers({ remove: [], put: [sub(1), sub(2), sub(3)] }));
    r.transaction(() => r.writeSubscribers({ remove: ['s1'], put: [sub(2, 'beta'), sub(4)] }));
    r.close();
    const again = Registry.open(path);
    expect(again.subscribers().map((s) => [s.name, s.isp])).toEqual([['s2', 'beta'], ['s3', 'alpha'], ['s4', 'alpha']]);
    again.close();
  });

  it('a transaction that throws leaves nothing behind, audit record included', () => {
    const r = Registry.open(join(dir, 'registry.sqlite'));
    expect(() =>
      r.transaction(() => {
        r.writeSubscribers({ remove: [], put: [sub(1), sub(2)] });
        r.writeAudit({ actor, action: 'subscriber.import', target: '2' });
        throw new Error('half way');
      }),
    ).toThrow('half way');
    expect(r.subscriberCount()).toBe(0);
    expect(r.auditLog()).toEqual([]);
    r.close();
  });

  it('writes 1,000,000 subscribers in one transaction, and all or none of them', () => {
    const r = Registry.open(join(dir, 'registry.sqlite'));
    const rows = Array.from({ length: 1_000_000 }, (_v, i) => sub(i));
    expect(() =>
      r.transaction(() => {
        r.writeSubscribers({ remove: [], put: rows });
        throw new Error('refused at the end');
      }),
    ).toThrow();
    expect(r.subscriberCount()).toBe(0);
    const t0 = performance.now();
    r.transaction(() => r.writeSubscribers({ remove: [], put: rows }));
    const ms = performance.now() - t0;
    console.log(`1,000,000 subscribers written in one transaction in ${Math.round(ms)} ms`);
    expect(r.subscriberCount()).toBe(1_000_000);
    expect(r.subscriber('s999999')).toEqual(sub(999_999));
    r.close();
  }, 120_000);

  it('records who changed what in the audit log, oldest first, paged by id', () => {
    const r = Registry.open(join(dir, 'registry.sqlite'));
    for (let i = 0; i < 5; i++) r.transaction(() => r.writeAudit({ actor, action: 'subscriber.move', target: `mac ${i}`, detail: { i } }));
    const last2 = r.auditLog({ limit: 2 });
    expect(last2.map((a) => a.target)).toEqual(['mac 3', 'mac 4']);
    expect(last2[0]).toMatchObject({ actor: 'admin', role: 'admin', request: 'r1', source: '127.0.0.1', detail: { i: 3 } });
    expect(r.auditLog({ after: last2[0]!.id }).map((a) => a.target)).toEqual(['mac 4']);
    r.close();
  });

  it('refuses a file that is not a database, with what to do', () => {
    const path = join(dir, 'registry.sqlite');
    writeFileSync(path, 'this is not a database, it is an operator\'s note'.repeat(100));
    let err: unknown;
    try {
      Registry.open(path, { check: true });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RegistryError);
    expect((err as RegistryError).kind).toBe('corrupt');
    expect((err as Error).message).toMatch(/is corrupt.*fecflow registry restore/);
    // nothing was written over it
    expect(readFileSync(path, 'utf8')).toMatch(/^this is not a database/);
  });

  it('refuses a registry whose pages were damaged (quick_check) and names restore', () => {
    const path = join(dir, 'registry.sqlite');
    const r = Registry.open(path);
    r.transaction(() => r.writeSubscribers({ remove: [], put: Array.from({ length: 5000 }, (_v, i) => sub(i)) }));
    r.close(); // checkpoints the WAL into the file
    const size = statSync(path).size;
    const fd = openSync(path, 'r+');
    // scribble over the middle pages (not the header): a torn or bit-rotted disk
    writeSync(fd, Buffer.alloc(8192, 0xa5), 0, 8192, Math.floor(size / 2 / 4096) * 4096);
    closeSync(fd);
    expect(() => Registry.open(path, { check: true })).toThrow(/corrupt.*restore/);
    expect(() => verifyRegistryFile(path)).toThrow(/not a sound registry|corrupt/);
  });

  it('refuses a registry written by a newer fecflow', () => {
    const path = join(dir, 'registry.sqlite');
    Registry.open(path).close();
    const db = new Database(path);
    db.pragma(`user_version = ${REGISTRY_VERSION + 1}`);
    db.close();
    expect(() => Registry.open(path)).toThrow(/newer fecflow/);
  });

  it('backs up online while another connection keeps writing, and the copy verifies', async () => {
    const path = join(dir, 'registry.sqlite');
    const w = Registry.open(path);
    w.transaction(() => w.writeSubscribers({ remove: [], put: Array.from({ length: 20_000 }, (_v, i) => sub(i)) }));
    const reader = Registry.open(path, { readonly: true });
    const writing = (async () => {
      for (let i = 20_000; i < 20_200; i++) {
        w.transaction(() => w.writeSubscribers({ remove: [], put: [sub(i)] }));
        await new Promise((r) => setImmediate(r));
      }
    })();
    const dest = join(dir, 'backup.sqlite');
    await reader.backup(dest);
    await writing;
    const v = verifyRegistryFile(dest);
    expect(v.version).toBe(REGISTRY_VERSION);
    expect(v.subscribers).toBeGreaterThanOrEqual(20_000);
    expect(v.subscribers).toBeLessThanOrEqual(20_200);
    reader.close();
    w.close();
  });
});

describe('node lock', () => {
  it('lets one holder in, names its PID to the next, and frees on release', () => {
    const locks = [{ path: join(dir, 'n', 'lock'), what: "node 'n'" }];
    const first = NodeLock.acquire(locks);
    let err: unknown;
    try {
      NodeLock.acquire(locks);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(LockError);
    expect((err as LockError).holder).toBe(process.pid);
    expect((err as Error).message).toMatch(new RegExp(`node 'n' is locked by another fecflow process \\(PID ${process.pid}\\)`));
    first.release();
    NodeLock.acquire(locks).release();
  });

  it('takes all locks or none', () => {
    const a = { path: join(dir, 'a.lock'), what: 'a' };
    const b = { path: join(dir, 'b.lock'), what: 'b' };
    const holdB = NodeLock.acquire([b]);
    expect(() => NodeLock.acquire([a, b])).toThrow(LockError);
    // a was taken and given back when b failed
    NodeLock.acquire([a]).release();
    holdB.release();
  });
});
