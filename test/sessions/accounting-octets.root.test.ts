// The octets and packets in FreeRADIUS's detail file are the bytes the end-user really sent:
// `fecflow serve` on a headend in namespaces (test/daemon/rig.ts) meters the subscriber in the
// data plane (`daemon.usage`, the per-subscriber meters), and the Interim-Update and the Stop
// of its session carry exactly what crossed the access port. Counted: the IP packet from its
// header on, as its length field says (20-byte IPv4 header + 8-byte UDP header + payload), as
// RADIUS octets usually are: no Ethernet header, tags, preamble or FCS.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeRoot } from '../helpers/root.js';
import { FreeRadius, type AccountingEntry } from '../helpers/freeradius.js';
import { buildOnce, Rig, sleep } from '../daemon/rig.js';
import { headendConfig } from './headend.js';

const SECRET = 'octets-secret';
const PAYLOAD = 100; // udp-sender.mjs's default datagram size
const FRAME = 20 + 8 + PAYLOAD; // the IP packet's bytes

describeRoot('accounting octets equal the bytes the end-user sent', () => {
  const rig = new Rig();
  let radius: FreeRadius;
  let token = '';

  beforeAll(async () => {
    buildOnce();
    rig.setup();
    radius = await FreeRadius.start({ secret: SECRET, netns: rig.rt, users: [{ name: 's1', password: 'pw' }] });
    rig.writeConfig(headendConfig(rig, radius, { secret: SECRET, password: 'pw' }));
    await rig.start();
    token = readFileSync(join(rig.stateDir, 'token'), 'utf8').trim();
  }, 180_000);

  afterAll(async () => {
    await radius?.close();
    await rig.cleanup();
  });

  const records = (id: string): AccountingEntry[] => radius.accounting().filter((e) => e.attrs['Acct-Session-Id'] === id);

  it('Interim-Update and Stop carry the frames and bytes sent since the session opened', async () => {
    // traffic before the session is dropped and belongs to no session
    await rig.send(30, 2000);
    const r = await rig.http('POST', '/v1/sessions', { subscriber: 's1' }, token);
    expect(r.status, r.text).toBe(201);
    const id = r.json.session.id as string;

    const first = await rig.send(200, 2000);
    // an interim written after the burst carries it
    let interim: AccountingEntry | undefined;
    for (let i = 0; i < 200 && !interim; i++) {
      interim = records(id).find((e) => e.attrs['Acct-Status-Type'] === 'Interim-Update' && e.attrs['Acct-Input-Packets'] === String(first));
      await sleep(50);
    }
    expect(interim, JSON.stringify(records(id))).toBeDefined();
    expect(interim!.attrs['Acct-Input-Octets']).toBe(String(first * FRAME));
    expect(interim!.attrs['Acct-Input-Gigawords']).toBe('0');

    const second = await rig.send(150, 2000);
    await sleep(200);
    expect((await rig.http('POST', `/v1/sessions/${id}/close`, {}, token)).status).toBe(200);
    let stop: AccountingEntry | undefined;
    for (let i = 0; i < 200 && !stop; i++) {
      stop = records(id).find((e) => e.attrs['Acct-Status-Type'] === 'Stop');
      await sleep(50);
    }
    expect(stop).toBeDefined();
    expect(stop!.attrs['Acct-Input-Packets']).toBe(String(first + second));
    expect(stop!.attrs['Acct-Input-Octets']).toBe(String((first + second) * FRAME));
  }, 120_000);
});
