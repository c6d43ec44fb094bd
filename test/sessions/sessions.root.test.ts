// Sessions on a real headend: `fecflow serve` in a router namespace (test/daemon/rig.ts) with
// the ISP's FreeRADIUS on that namespace's loopback. A session-admitted subscriber forwards
// only while its session is open; a Disconnect-Request from radclient ends the session and the
// end-user's traffic stops; accounting survives FreeRADIUS being stopped and the daemon being
// killed -9 in between, every record arriving exactly once.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeRoot } from '../helpers/root.js';
import { FreeRadius, radclient, type AccountingEntry } from '../helpers/freeradius.js';
import { buildOnce, Rig, SUB_MAC, sleep } from '../daemon/rig.js';
import { headendConfig } from './headend.js';

const SECRET = 'alpha-rig-secret';
const macKey = Buffer.from(SUB_MAC.replace(/:/g, '') + '0000', 'hex');

const STATUS = { start: 'Start', interim: 'Interim-Update', stop: 'Stop' } as const;

describeRoot('sessions on a headend with its ISP\'s FreeRADIUS', () => {
  const rig = new Rig();
  let radius: FreeRadius;
  let token = '';
  const coaPort = 20_000 + Math.floor(Math.random() * 20_000);

  beforeAll(async () => {
    buildOnce();
    rig.setup();
    radius = await FreeRadius.start({ secret: SECRET, netns: rig.rt, users: [{ name: 's1', password: 'line-pw' }] });
    rig.writeConfig(headendConfig(rig, radius, { secret: SECRET, password: 'line-pw', coaPort }));
    await rig.start();
    token = readFileSync(join(rig.stateDir, 'token'), 'utf8').trim();
  }, 180_000);

  afterAll(async () => {
    await radius?.close();
    await rig.cleanup();
  });

  const hasEntry = (): boolean => {
    const m = rig.pinned('sub_mac');
    try {
      return m.get(macKey) !== undefined;
    } finally {
      m.close();
    }
  };

  const open = async (): Promise<string> => {
    const r = await rig.http('POST', '/v1/sessions', { subscriber: 's1' }, token);
    expect(r.status, r.text).toBe(201);
    return r.json.session.id as string;
  };

  const records = (id: string): AccountingEntry[] => radius.accounting().filter((e) => e.attrs['Acct-Session-Id'] === id);

  it('forwards a session-admitted subscriber only while its session is open; a Disconnect from radclient ends it and the traffic stops', async () => {
    expect(hasEntry()).toBe(false);
    const before = rig.sinkCount(100);
    await rig.send(20, 2000);
    await sleep(200);
    expect(rig.sinkCount(100)).toBe(before); // no session: dropped at the headend

    const id = await open();
    expect(hasEntry()).toBe(true);
    const sent = await rig.send(50, 2000);
    await sleep(200);
    const during = rig.sinkCount(100);
    expect(during - before).toBe(sent);

    const r = await radclient(`127.0.0.1:${coaPort}`, 'disconnect', SECRET, [`Acct-Session-Id = "${id}"`, `Event-Timestamp = ${Math.floor(Date.now() / 1000)}`, 'Message-Authenticator = 0x00'], { netns: rig.rt });
    expect(r.out).toMatch(/Received Disconnect-ACK/);
    expect(hasEntry()).toBe(false);
    await rig.send(50, 2000);
    await sleep(200);
    expect(rig.sinkCount(100)).toBe(during);
    const show = await rig.http('GET', `/v1/sessions/${id}`, undefined, token);
    expect(show.json.session).toMatchObject({ state: 'closed', cause: 'disconnect' });
  }, 60_000);

  it('changes the subscriber\'s rate by CoA from radclient', async () => {
    const id = await open();
    const r = await radclient(`127.0.0.1:${coaPort}`, 'coa', SECRET, [`User-Name = "s1"`, `Event-Timestamp = ${Math.floor(Date.now() / 1000)}`, 'WISPr-Bandwidth-Max-Up = 8000000'], { netns: rig.rt });
    expect(r.out).toMatch(/Received CoA-ACK/);
    const cfg = await rig.http('GET', '/v1/config', undefined, token);
    const s1 = cfg.json.config.subscribers.find((s: { name: string }) => s.name === 's1');
    expect(s1.rate).toEqual({ up: { rate: 8_000_000, burst: 15_180 } });
    expect((await rig.http('POST', `/v1/sessions/${id}/close`, {}, token)).status).toBe(200);
  }, 60_000);

  it('loses no accounting and doubles none across FreeRADIUS stopped and the daemon killed -9', async () => {
    const id = await open();
    await (async () => {
      for (let i = 0; i < 200 && !records(id).some((e) => e.attrs['Acct-Status-Type'] === 'Start'); i++) await sleep(25);
    })();
    expect(records(id).map((e) => e.attrs['Acct-Status-Type'])).toContain('Start');

    await radius.stop(); // really stopped: its ports do not answer
    await sleep(2500); // interims pile up in the outbox
    await rig.stop('SIGKILL');
    await rig.start();
    await sleep(1500); // more interims, from the restarted daemon
    const closed = await rig.http('POST', `/v1/sessions/${id}/close`, {}, token);
    expect(closed.status).toBe(200);
    const pending = (await rig.http('GET', `/v1/sessions/${id}`, undefined, token)).json.records as Array<{ radius: { sent: boolean } }>;
    expect(pending.filter((r) => !r.radius.sent).length).toBeGreaterThanOrEqual(3);
    expect(records(id).length).toBe(1); // only the Start reached the server so far

    await radius.restart();
    let all: Array<{ seq: number; kind: keyof typeof STATUS; sessionTime: number; radius: { sent: boolean } }> = [];
    for (let i = 0; i < 400; i++) {
      all = (await rig.http('GET', `/v1/sessions/${id}`, undefined, token)).json.records;
      if (all.every((r) => r.radius.sent)) break;
      await sleep(50);
    }
    expect(all.every((r) => r.radius.sent)).toBe(true);
    await sleep(300);
    // every record of the ledger once in the detail file, and nothing else
    const got = records(id).map((e) => `${e.attrs['Acct-Status-Type']} ${e.attrs['Acct-Session-Time'] ?? '-'}`).sort();
    const want = all.map((r) => `${STATUS[r.kind]} ${r.kind === 'start' ? '-' : r.sessionTime}`).sort();
    expect(got).toEqual(want);
    expect(new Set(got).size).toBe(got.length);
    expect(all.at(-1)!.kind).toBe('stop');
    // records that waited say so (Acct-Delay-Time), the Start did not
    const delayed = records(id).filter((e) => Number(e.attrs['Acct-Delay-Time'] ?? 0) >= 1);
    expect(delayed.length).toBeGreaterThanOrEqual(2);
    expect(records(id).find((e) => e.attrs['Acct-Status-Type'] === 'Start')!.attrs['Acct-Delay-Time']).toBe('0');
  }, 120_000);
});
