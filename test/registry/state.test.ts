// The daemon's state over the registry, with the real schema, compiler and reconcile diff on
// in-memory maps: the upgrade of a router file that still lists subscribers, restarts, a full
// disk (root: a small tmpfs holds the state), and the CLI's import and backup/restore.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { main } from '../../control/cli/main.js';
import { registryPath, Registry, REGISTRY_VERSION } from '../../control/registry/registry.js';
import { NodeLock, stateLockPath } from '../../control/registry/lock.js';
import { describeRoot } from '../helpers/root.js';
import { call, startHarness, type Harness } from '../api/fakes.js';

const HEADEND = readFileSync(new URL('../../deploy/examples/headend.yaml', import.meta.url), 'utf8');
const HEADEND_DEVICES = [
  { name: 'veth-he-acc', ifindex: 2, mac: '02:00:00:00:20:01', mtu: 1500 },
  { name: 'veth-he-core', ifindex: 3, mac: '02:00:00:00:20:02', mtu: 9000 },
  { name: 'veth-he-core2', ifindex: 4, mac: '02:00:00:00:20:03', mtu: 9000 },
];

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(['node', 'fecflow', ...args], { out: (t) => void (out += t), err: (t) => void (err += t), isTTY: false }, {});
  return { code, out, err };
}

describe('upgrade from a router file with subscribers', () => {
  it('imports deploy/examples/headend.yaml\'s subscribers on first start, then the registry owns them', async () => {
    h = await startHarness(HEADEND, { devices: HEADEND_DEVICES, node: 'headend-1' });
    const fileSubs = (parse(HEADEND) as { subscribers: unknown[] }).subscribers.length;
    expect(fileSubs).toBeGreaterThan(3);
    expect(h.registry.subscriberCount()).toBe(fileSubs);
    expect(h.registry.auditLog({ after: 0 })[0]).toMatchObject({ action: 'registry.init', actor: 'daemon', detail: { importedFromFile: fileSubs } });
    const macs = h.maps.get('sub_mac')!.data.size;
    expect(macs).toBeGreaterThan(0);

    // a move lands in the registry, not in the file
    const r = await call(h, 'POST', '/v1/subscribers/move', { subscriber: { mac: '02:00:00:00:01:01', isp: 'beta' } });
    expect(r.status).toBe(200);
    expect(readFileSync(h.configPath, 'utf8')).toBe(HEADEND);

    // restart on the same directory with the file unchanged (it still says alice is alpha's):
    // the registry wins, nothing is imported twice
    const dir = h.dir;
    await h.stop();
    h = await startHarness(undefined, { dir, configPath: join(dir, 'router.yaml'), devices: HEADEND_DEVICES, node: 'headend-1' });
    expect(h.registry.subscriberCount()).toBe(fileSubs);
    expect(h.registry.subscriber('alice')).toMatchObject({ isp: 'beta' });
    const alice = (await call(h, 'GET', '/v1/subscribers')).json.subscribers.find((s: { name: string }) => s.name === 'alice');
    expect(alice.isp).toBe('beta');
    expect(h.maps.get('sub_mac')!.data.size).toBe(macs);
    expect(h.registry.auditLog({ after: 0 }).filter((a) => a.action === 'registry.init')).toHaveLength(1);
  });

  it('a router file refused on first start imports nothing', async () => {
    const bad = HEADEND.replace('labels: [1001]', 'labels: [3]');
    expect(bad).not.toBe(HEADEND);
    await expect(startHarness(bad, { devices: HEADEND_DEVICES, node: 'headend-1' })).rejects.toThrow(/invalid/);
  });
});

describe('fecflow subscriber import', () => {
  it('refuses a header-only file with --replace, reports bad rows by line, and imports names and return paths', async () => {
    h = await startHarness();
    const dir = h.dir;
    const base = ['--url', h.url, '--token', h.token];
    const empty = join(dir, 'empty.csv');
    writeFileSync(empty, 'mac,isp\n');
    const before = h.snapshot();
    const e = await cli([...base, 'subscriber', 'import', empty, '--replace']);
    expect(e.code).toBe(1);
    expect(e.err).toMatch(/no rows: with --replace that would remove every subscriber; nothing was changed/);
    expect(h.snapshot()).toBe(before);
    expect(h.registry.subscriberCount()).toBe(1);

    const bad = join(dir, 'bad.csv');
    const lines = ['mac,isp,name,deliver_vlan'];
    for (let i = 0; i < 30; i++) lines.push(`02:00:00:00:30:${i.toString(16).padStart(2, '0')},beta,n${i},${i % 10 === 3 ? '9999' : '7'}`);
    lines.push('zz:zz,beta,,');
    writeFileSync(bad, `${lines.join('\n')}\n`);
    const b = await cli([...base, 'subscriber', 'import', bad]);
    expect(b.code).toBe(1);
    expect(b.err).toMatch(/4 bad row\(s\); nothing was imported/);
    expect(b.err).toMatch(/line 5: deliver_vlan '9999' is not OUTER\[:INNER\]/);
    expect(b.err).toMatch(/line 32: 'zz:zz' is not a MAC address/);
    expect(h.registry.subscriberCount()).toBe(1);

    const good = join(dir, 'good.csv');
    writeFileSync(good, 'prefix,isp,name,deliver_interface,deliver_mac,deliver_addresses\n100.64.7.0/24,beta,shop-7,acc,02:00:00:00:07:07,100.64.7.0/24\n');
    const g = await cli([...base, 'subscriber', 'import', good]);
    expect(g.code, g.err).toBe(0);
    expect(h.registry.subscriber('shop-7')).toEqual({ name: 'shop-7', isp: 'beta', match: { prefix: ['100.64.7.0/24'] }, deliver: { interface: 'acc', mac: '02:00:00:00:07:07', addresses: ['100.64.7.0/24'] } });
    const list = await cli([...base, 'subscriber', 'list']);
    expect(list.out).toMatch(/shop-7\s+prefix\s+100\.64\.7\.0\/24\s+beta\s+acc 02:00:00:00:07:07 100\.64\.7\.0\/24/);

    const all = await cli([...base, 'subscriber', 'import', empty, '--replace', '--allow-empty']);
    expect(all.code, all.err).toBe(0);
    expect(h.registry.subscriberCount()).toBe(0);
  });
});

describe('fecflow registry backup / restore / check', () => {
  it('backs up a running registry, refuses to restore under a running daemon, restores when stopped', async () => {
    h = await startHarness();
    const stateDir = join(h.dir, 'state');
    const where = ['--state-dir', stateDir, '--node', 'test'];
    await call(h, 'POST', '/v1/subscribers', { subscriber: { mac: '02:00:00:00:00:02', isp: 'beta' } });
    const backup = join(h.dir, 'backup.sqlite');
    const b = await cli(['registry', 'backup', backup, ...where]);
    expect(b.code, b.err).toBe(0);
    expect(b.out).toMatch(/backed up 2 subscribers/);
    expect((await cli(['registry', 'backup', backup, ...where])).err).toMatch(/exists/);
    expect((await cli(['registry', 'check', ...where])).out).toMatch(new RegExp(`ok \\(schema ${REGISTRY_VERSION}, 2 subscribers\\)`));

    // after the backup: one more subscriber, then the daemon "stops"
    await call(h, 'POST', '/v1/subscribers', { subscriber: { mac: '02:00:00:00:00:03', isp: 'beta' } });
    // a daemon holds the node's lock: restore refuses
    const lock = NodeLock.forNode({ stateDir, pinDir: join(h.dir, 'pins', 'test'), node: 'test' });
    const refused = await cli(['registry', 'restore', backup, ...where]);
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/locked by another fecflow process.*stop the daemon first/);
    lock.release();
    const dir = h.dir;
    await h.stop();

    // a file that is not a registry is refused before anything is replaced
    const junk = join(dir, 'junk.sqlite');
    writeFileSync(junk, 'junk'.repeat(1000));
    const j = await cli(['registry', 'restore', junk, ...where]);
    expect(j.code).toBe(1);
    expect(j.err).toMatch(/nothing was changed/);
    expect(Registry.open(registryPath(stateDir, 'test'), { readonly: true }).subscriberCount()).toBe(3);

    const r = await cli(['registry', 'restore', backup, ...where]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/restored 2 subscribers/);
    h = await startHarness(undefined, { dir, configPath: join(dir, 'router.yaml') });
    expect(h.registry.subscriberCount()).toBe(2);
    expect(h.maps.get('sub_mac')!.data.size).toBe(2);
    expect(existsSync(stateLockPath(stateDir, 'test'))).toBe(true);
  });

  it('a corrupted registry stops the daemon from starting, with what to do', async () => {
    h = await startHarness();
    const dir = h.dir;
    await h.stop();
    const path = registryPath(join(dir, 'state'), 'test');
    rmSync(`${path}-wal`, { force: true });
    rmSync(`${path}-shm`, { force: true });
    writeFileSync(path, Buffer.alloc(64 * 1024, 0x5a));
    h = undefined;
    await expect(startHarness(undefined, { dir, configPath: join(dir, 'router.yaml') })).rejects.toThrow(/corrupt.*fecflow registry restore/);
    rmSync(dir, { recursive: true, force: true });
  });
});

describeRoot('a full disk under the registry', () => {
  it('refuses edits with 507 and changes no map; nothing acknowledged is lost; edits work again once space is freed', async () => {
    const mnt = mkdtempSync(join(tmpdir(), 'fecflow-full-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'fecflow-test', mnt]);
    try {
      const dir = join(mnt, 'h');
      mkdirSync(dir);
      h = await startHarness(undefined, { dir });
      // fill what is left of the filesystem
      const filler = join(mnt, 'filler');
      try {
        execFileSync('dd', ['if=/dev/zero', `of=${filler}`, 'bs=4k'], { stdio: 'ignore' });
      } catch {
        /* dd stops with ENOSPC: that is the point */
      }
      const acked: string[] = [];
      let refused: { status: number; json: any } | undefined;
      for (let round = 0; round < 200 && !refused; round++) {
        const rows = Array.from({ length: 200 }, (_v, i) => ({ mac: `02:00:00:${round.toString(16).padStart(2, '0')}:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`, isp: 'beta' }));
        const before = h.snapshot();
        const r = await call(h, 'POST', '/v1/subscribers/import', { subscribers: rows });
        if (r.status === 200) acked.push(...rows.map((x) => x.mac));
        else {
          refused = r;
          expect(h.snapshot()).toBe(before);
        }
      }
      expect(refused, 'the disk never filled').toBeDefined();
      expect(refused!.status, JSON.stringify(refused!.json)).toBe(507);
      expect(refused!.json.error.message).toMatch(/disk is full.*the change was not made/);
      expect(h.maps.get('sub_mac')!.data.size).toBe(acked.length + 1);

      rmSync(filler);
      const again = await call(h, 'POST', '/v1/subscribers', { subscriber: { mac: '02:00:00:ff:00:01', isp: 'beta' } });
      expect(again.status).toBe(201);

      // restart: every acknowledged edit is there
      await h.stop();
      h = await startHarness(undefined, { dir, configPath: join(dir, 'router.yaml') });
      expect(h.registry.subscriberCount()).toBe(acked.length + 2);
      expect(h.maps.get('sub_mac')!.data.size).toBe(acked.length + 2);
      await h.stop();
      h = undefined;
    } finally {
      // a failure above leaves the harness's registry open on the mount: close it first
      await h?.stop().catch(() => undefined);
      h = undefined;
      execFileSync('umount', [mnt]);
      rmSync(mnt, { recursive: true, force: true });
    }
  }, 120_000);
});
