// The daemon for real: `fecflow serve` in a router namespace on veths, driven through the CLI
// and the API, with frames counted on the far side. Checks apply and dry run, a subscriber
// remap (the map entry and the label on the wire change), a bad config refused with the tables
// untouched, the token, restart and kill -9 with forwarding unbroken, and detach.
import { chmodSync, existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { xdpQuery, withNetns } from '../../control/bpf/index.js';
import { describeRoot } from '../helpers/root.js';
import { buildOnce, Rig, SUB_MAC, sleep } from './rig.js';

const CONFIG_MAPS = ['sub_mac', 'fec_up', 'nh_group', 'nexthop', 'tx_port', 'ilm', 'policer'];
const macKey = Buffer.from(SUB_MAC.replace(/:/g, '') + '0000', 'hex');

describeRoot('fecflow serve on a headend in namespaces', () => {
  const rig = new Rig();

  beforeAll(async () => {
    buildOnce();
    rig.setup();
    await rig.start();
  }, 180_000);

  afterAll(async () => {
    await rig.cleanup();
  });

  const subIsp = (): number => {
    const m = rig.pinned('sub_mac');
    try {
      return m.get(macKey)!.readUInt32LE(0);
    } finally {
      m.close();
    }
  };

  it('attaches the access and core programs, pins them, and reports status', async () => {
    const s = await rig.cli(['status', '--json']);
    expect(s.code).toBe(0);
    const st = JSON.parse(s.out);
    expect(st.ready).toBe(true);
    expect(st.programs.map((p: { ifname: string; role: string }) => [p.ifname, p.role])).toEqual([
      [rig.acc, 'access'],
      [rig.core, 'core'],
    ]);
    for (const p of st.programs) expect(['native', 'generic']).toContain(p.mode);
    expect(rig.logs).toMatch(/attached xdp_access in (native|generic) mode/);
    expect(existsSync(join(rig.pinRoot, rig.node, 'links', rig.acc))).toBe(true);
    expect(existsSync(join(rig.pinRoot, rig.node, 'maps', 'sub_mac'))).toBe(true);
    const q = withNetns(rig.rt, () => xdpQuery(rig.acc));
    expect(q.progId).toBe(st.programs[0].progId);
    expect(subIsp()).toBe(1);
  });

  it('forwards the subscriber with its ISP label', async () => {
    const before = rig.sinkCount(100);
    expect(await rig.send(50, 500)).toBe(50);
    await sleep(200);
    expect(rig.sinkCount(100) - before).toBe(50);
  });

  it('a second serve for the same node is refused, naming the PID, and touches no map', async () => {
    const before = rig.snapshot(CONFIG_MAPS);
    const second = await rig.serveOnce();
    expect(second.code).not.toBe(0);
    expect(second.out).toMatch(new RegExp(`locked by another fecflow process \\(PID ${rig.proc!.pid}\\)`));
    expect(rig.snapshot(CONFIG_MAPS)).toBe(before);
    expect((await rig.http('GET', '/readyz')).status).toBe(200);
    // and detach --offline will not pull the pins from under a running daemon
    const off = await rig.cli(['detach', '--yes', '--offline', '--node', rig.node, '--pin-root', rig.pinRoot]);
    expect(off.code).toBe(1);
    expect(off.err).toMatch(/locked by another fecflow process/);
    expect(rig.snapshot(CONFIG_MAPS)).toBe(before);
  });

  it('applies an edited router file (read-only, replaced atomically) and never writes it', async () => {
    rig.writeConfig(rig.config({ label2: 210 }));
    chmodSync(rig.configPath, 0o444);
    const text = readFileSync(rig.configPath, 'utf8');
    const fec = rig.pinned('fec_up');
    const k = Buffer.alloc(4);
    k.writeUInt32LE(2);
    try {
      // the file watcher picks it up; `fecflow reload` does the same on demand
      for (let i = 0; i < 50 && fec.get(k)!.readUInt32LE(0) !== 210; i++) await sleep(100);
      const a = await rig.cli(['reload']);
      expect(a.code, a.err).toBe(0);
      expect(fec.get(k)!.readUInt32LE(0)).toBe(210);
    } finally {
      fec.close();
    }
    expect(readFileSync(rig.configPath, 'utf8')).toBe(text);
    expect(statSync(rig.configPath).mode & 0o777).toBe(0o444);
  });

  it('moves a subscriber to another ISP: one map write, and the wire label changes', async () => {
    const m = await rig.cli(['subscriber', 'move', '--mac', SUB_MAC, '--isp', 'beta']);
    expect(m.code, m.err).toBe(0);
    expect(m.out).toMatch(/1 map entries written, 0 deleted/);
    expect(subIsp()).toBe(2);
    const before = rig.sinkCount(210);
    expect(await rig.send(40, 500)).toBe(40);
    await sleep(200);
    expect(rig.sinkCount(210) - before).toBe(40);
    // recorded in the registry (the router file still says alpha: it is not the daemon's to write)
    expect(readFileSync(rig.configPath, 'utf8')).toMatch(/isp: alpha/);
    const audit = JSON.parse((await rig.cli(['audit', '--json', '--limit', '1'])).out);
    expect(audit[0]).toMatchObject({ action: 'subscriber.move', role: 'admin' });
    const back = await rig.cli(['subscriber', 'move', '--mac', SUB_MAC, '--isp', 'alpha']);
    expect(back.code).toBe(0);
    expect(subIsp()).toBe(1);
  });

  it('refuses a bad config from the file (watch and SIGHUP) and keeps the tables', async () => {
    const before = rig.snapshot(CONFIG_MAPS);
    const logLen = rig.logs.length;
    rig.writeConfig(rig.config({ label1: 3, label2: 210 }));
    for (let i = 0; i < 50 && !rig.logs.slice(logLen).includes('config reload refused'); i++) await sleep(100);
    expect(rig.logs.slice(logLen)).toMatch(/"path":"isps\[0\]\.upstream\.labels\[0\]".*implicit null/);
    expect(rig.logs.slice(logLen)).toMatch(/config reload refused; the running config and tables are unchanged/);
    rig.proc!.kill('SIGHUP');
    await sleep(500);
    expect(rig.snapshot(CONFIG_MAPS)).toBe(before);
    const st = JSON.parse((await rig.cli(['status', '--json'])).out);
    expect(st.lastReconcile.ok).toBe(true);
    expect((await rig.http('GET', '/readyz')).status).toBe(200);
    // a good edit of the file is picked up
    rig.writeConfig(rig.config({ label2: 220 }));
    for (let i = 0; i < 50 && (await rig.http('GET', '/v1/fecs')).json.upstream[1].labels[0] !== 220; i++) await sleep(100);
    expect((await rig.http('GET', '/v1/fecs')).json.upstream[1].labels).toEqual([220]);
  });

  it('refuses changes without the token and leaves the maps alone', async () => {
    const before = rig.snapshot(CONFIG_MAPS);
    const r = await rig.http('POST', '/v1/subscribers/move', { subscriber: { mac: SUB_MAC, isp: 'beta' } }, null);
    expect(r.status).toBe(401);
    const w = await rig.http('POST', '/v1/subscribers/move', { subscriber: { mac: SUB_MAC, isp: 'beta' } }, 'f'.repeat(64));
    expect(w.status).toBe(401);
    const c = await rig.cli(['subscriber', 'move', '--mac', SUB_MAC, '--isp', 'beta', '--token', 'wrong']);
    expect(c.code).toBe(1);
    expect(c.err).toMatch(/refused the API token/);
    expect(rig.snapshot(CONFIG_MAPS)).toBe(before);
  });

  it('keeps forwarding across a clean restart and a kill -9, reusing pins and links', async () => {
    const progIds = JSON.parse((await rig.cli(['status', '--json'])).out).programs.map((p: { progId: number }) => p.progId);
    const before = rig.sinkCount(100);
    // 2,000 datagrams over 4 s; the daemon is stopped, restarted, killed and restarted meanwhile.
    const sending = rig.send(2000, 500);
    await sleep(500);
    expect(await rig.stop('SIGTERM')).toBe(0);
    await rig.start();
    expect(rig.logs).toMatch(/kept the pinned XDP link: program unchanged/);
    await sleep(300);
    await rig.stop('SIGKILL');
    await sleep(300);
    await rig.start();
    const sent = await sending;
    expect(sent).toBe(2000);
    await sleep(300);
    expect(rig.sinkCount(100) - before).toBe(2000);
    const after = JSON.parse((await rig.cli(['status', '--json'])).out);
    expect(after.programs.map((p: { progId: number }) => p.progId)).toEqual(progIds);
    expect(after.programs.every((p: { reused: boolean }) => p.reused)).toBe(true);
    expect(after.lastReconcile.ok).toBe(true);
  });

  it('detach removes the programs and the pins, and the daemon exits', async () => {
    const r = await rig.cli(['detach', '--yes']);
    expect(r.code, r.err).toBe(0);
    expect(await rig.waitExit()).toBe(0);
    expect(existsSync(join(rig.pinRoot, rig.node))).toBe(false);
    expect(withNetns(rig.rt, () => xdpQuery(rig.acc)).mode).toBe('none');
    expect(withNetns(rig.rt, () => xdpQuery(rig.core)).mode).toBe('none');
  });

  it('detach --offline removes what a dead daemon left attached and pinned', async () => {
    await rig.start();
    expect(withNetns(rig.rt, () => xdpQuery(rig.acc)).mode).not.toBe('none');
    await rig.stop('SIGKILL');
    const before = rig.sinkCount(100);
    expect(await rig.send(20, 200)).toBe(20);
    await sleep(200);
    expect(rig.sinkCount(100) - before).toBe(20); // the pins keep forwarding without a daemon

    const noDaemon = await rig.cli(['detach', '--yes']);
    expect(noDaemon.code).toBe(1);
    expect(noDaemon.err).toMatch(/cannot reach the daemon.*detach --offline --node NAME --yes/);
    const noNode = await rig.cli(['detach', '--yes', '--offline']);
    expect(noNode.code).toBe(2);
    const wrong = await rig.cli(['detach', '--yes', '--offline', '--node', `${rig.node}-not`, '--pin-root', rig.pinRoot]);
    expect(wrong.code).toBe(1);
    expect(wrong.err).toMatch(/does not exist/);
    expect(existsSync(join(rig.pinRoot, rig.node))).toBe(true);

    const r = await rig.cli(['detach', '--yes', '--offline', '--node', rig.node, '--pin-root', rig.pinRoot]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(new RegExp(`detached ${[rig.acc, rig.core].sort().join(', ')}; \\d+ map pins removed`));
    expect(existsSync(join(rig.pinRoot, rig.node))).toBe(false);
    expect(withNetns(rig.rt, () => xdpQuery(rig.acc)).mode).toBe('none');
    expect(withNetns(rig.rt, () => xdpQuery(rig.core)).mode).toBe('none');
  });
});
