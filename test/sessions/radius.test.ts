// Sessions against a real FreeRADIUS (Debian 3.2) on loopback, through the API of a daemon on
// the fake data plane (test/api/fakes.ts): admission by Access-Accept and refusal by
// Access-Reject, the classifier entry only while the session is open, reply attributes
// applied, Start/Interim/Stop in FreeRADIUS's detail file, Session-Timeout, and radclient's
// CoA and Disconnect-Requests with every refusal case counted.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSocket } from 'node:dgram';
import { call, startHarness, type Harness } from '../api/fakes.js';
import { FreeRadius, HAVE_FREERADIUS, freeUdpPort, radclient } from '../helpers/freeradius.js';
import { zeroUsage, type SubscriberUsage, type UsageMeter } from '../../control/daemon/usage.js';
import { Attr, Code, attr, signedRequest, decode } from '../../control/radius/packet.js';
import { COA_REFUSALS } from '../../control/sessions/metrics.js';

const SECRET = 'alpha-secret-1';
const COA_SECRET = 'alpha-coa-2';
const ALICE_MAC = '02:00:00:00:0a:01';
const BOB_MAC = '02:00:00:00:0b:01';

/** A meter whose totals the test sets (checks the arithmetic of the records: session deltas,
 * 64-bit octets split into Gigawords; the data plane's own meter is another part's). */
class ScriptedMeter implements UsageMeter {
  readonly totals = new Map<string, SubscriberUsage>();
  current(name: string): SubscriberUsage | undefined {
    return this.totals.get(name) ?? zeroUsage();
  }
  set(name: string, upBytes: bigint, upPackets: bigint, downBytes: bigint, downPackets: bigint): void {
    const u = zeroUsage();
    u.up.ipv4_udp = { bytes: upBytes, packets: upPackets };
    u.down.ipv4_tcp = { bytes: downBytes, packets: downPackets };
    this.totals.set(name, u);
  }
}

function config(radius: FreeRadius, coaPort: number, extra = ''): string {
  return `node: hub
interfaces:
  - name: acc
    role: access
  - name: core
    role: core
    neighbours:
      lsr: "02:00:00:00:00:99"
sessions:
  coa: { address: 127.0.0.1, port: ${coaPort} }
  eventWindow: 30
  retry: { initial: 0.1, max: 0.5 }
${extra}isps:
  - id: 1
    name: alpha
    upstream:
      labels: [100]
      nexthop: { interface: core, neighbour: lsr }
    radius:
      server: 127.0.0.1
      authPort: ${radius.authPort}
      acctPort: ${radius.acctPort}
      secret: ${SECRET}
      interimInterval: 1
      timeout: 300
      retries: 1
      coa: { from: [127.0.0.1], secret: ${COA_SECRET} }
  - id: 2
    name: beta
    upstream:
      labels: [200]
      nexthop: { interface: core, neighbour: lsr }
  - id: 3
    name: garden
    upstream:
      labels: [300]
      nexthop: { interface: core, neighbour: lsr }
subscribers:
  - name: alice
    isp: alpha
    admission: session
    match: { mac: "${ALICE_MAC}" }
  - name: bob
    isp: alpha
    admission: session
    match: { mac: "${BOB_MAC}" }
  - name: carol
    isp: alpha
    admission: session
    match: { mac: "02:00:00:00:0c:01" }
  - name: dave
    isp: beta
    match: { mac: "02:00:00:00:0d:01" }
ilm: []
`;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, fn: () => T | undefined | false, ms = 10_000): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

/** The sub_mac entry of a MAC in the fake maps, if any. */
function macEntry(h: Harness, mac: string): Buffer | undefined {
  const want = mac.split(':').join('');
  for (const [k, v] of h.maps.get('sub_mac')!.data) if (k.startsWith(want)) return v;
  return undefined;
}

function metric(text: string, name: string, labels: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && labels.split(',').every((p) => l.includes(p)));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
}

describe.skipIf(!HAVE_FREERADIUS && process.env.CI !== 'true')('sessions with a real FreeRADIUS', () => {
  let radius: FreeRadius;
  let h: Harness;
  let coaPort: number;
  const meter = new ScriptedMeter();

  beforeAll(async () => {
    radius = await FreeRadius.start({
      secret: SECRET,
      users: [
        {
          name: 'alice',
          password: 'alice-pw',
          reply: ['Session-Timeout = 3600', 'WISPr-Bandwidth-Max-Up = 2000000', 'WISPr-Bandwidth-Max-Down = 10000000', 'Class = "alpha-gold"'],
        },
        { name: 'bob', password: 'bob-pw', reply: ['Session-Timeout = 1'] },
        { name: 'carol', password: 'carol-pw' },
      ],
    });
    coaPort = await freeUdpPort();
    h = await startHarness(config(radius, coaPort), { usage: meter, sessionTickMs: 100 });
  }, 30_000);

  afterAll(async () => {
    await h?.close();
    await radius?.close();
  });

  it('keeps a session-admitted subscriber out of the classifier until a session opens', () => {
    expect(macEntry(h, ALICE_MAC)).toBeUndefined();
    expect(macEntry(h, '02:00:00:00:0d:01')).toBeDefined(); // dave is static
  });

  it('refuses a session FreeRADIUS rejects: 403, no session, no entry, counted', async () => {
    const r = await call(h, 'POST', '/v1/sessions', { subscriber: 'alice', password: 'wrong' });
    expect(r.status).toBe(403);
    expect(r.json.error.code).toBe('rejected');
    expect(macEntry(h, ALICE_MAC)).toBeUndefined();
    expect((await call(h, 'GET', '/v1/sessions?state=live')).json.sessions).toEqual([]);
    expect(metric(await h.metrics.render(), 'fecflow_session_opens_total', 'isp="alpha",result="rejected"')).toBe(1);
    expect(radius.output).toMatch(/Sent Access-Reject/);
  });

  it('opens a session FreeRADIUS accepts (PAP + Message-Authenticator) and applies its reply', async () => {
    meter.set('alice', 1000n, 10n, 5000n, 20n);
    const r = await call(h, 'POST', '/v1/sessions', { subscriber: 'alice', password: 'alice-pw' });
    expect(r.status).toBe(201);
    const s = r.json.session;
    expect(s).toMatchObject({ subscriber: 'alice', isp: 'alpha', state: 'open', username: 'alice', interimInterval: 1, rate: { up: 2_000_000, down: 10_000_000 } });
    expect(s.id).toMatch(/^[0-9A-F]{16}$/);
    expect(Date.parse(s.expiresAt) - Date.parse(s.openedAt)).toBe(3_600_000);
    // the classifier entry is there now, for alpha (ISP 1)
    const entry = macEntry(h, ALICE_MAC);
    expect(entry).toBeDefined();
    // the reply's rate is the subscriber's rate document; the session never reaches the registry's copy
    const doc = h.registry.subscriber('alice')!;
    expect(doc.rate).toEqual({ up: { rate: 2_000_000, burst: 15_180 }, down: { rate: 10_000_000, burst: 15_180 } });
    expect(doc.session).toBeUndefined();
    const running = (await call(h, 'GET', '/v1/config')).json.config.subscribers.find((x: { name: string }) => x.name === 'alice');
    expect(running.session).toBe(s.id);
    // FreeRADIUS got a Message-Authenticator it requires, and the Start arrived with the Class echoed
    const start = await until('the Start in the detail file', () => radius.accounting().find((e) => e.attrs['Acct-Session-Id'] === s.id && e.attrs['Acct-Status-Type'] === 'Start'));
    expect(start.attrs['Class']).toBe('0x616c7068612d676f6c64');
    expect(start.attrs['NAS-Identifier']).toBe('hub');
    expect(start.attrs['Calling-Station-Id']).toBe('02-00-00-00-0A-01');
    expect(start.attrs['User-Name']).toBe('alice');
    // the secret is not shown to readers
    expect(JSON.stringify((await call(h, 'GET', '/v1/config')).json)).not.toContain(SECRET);
    expect(JSON.stringify((await call(h, 'GET', '/v1/isps')).json)).not.toContain(COA_SECRET);
  });

  it('refuses a second session for the same subscriber (409)', async () => {
    const r = await call(h, 'POST', '/v1/sessions', { subscriber: 'alice', password: 'alice-pw' });
    expect(r.status).toBe(409);
  });

  it('sends Interim-Updates with the session\'s counters, 64-bit octets split into Gigawords', async () => {
    const id = (await call(h, 'GET', '/v1/sessions?subscriber=alice')).json.sessions[0].id;
    // 5 GiB + 123 up and 7 B down since the open
    meter.set('alice', 1000n + 5n * 2n ** 32n + 123n, 10n + 77n, 5000n + 7n, 20n + 1n);
    const interim = await until('an Interim-Update with the new counters', () =>
      radius.accounting().find((e) => e.attrs['Acct-Session-Id'] === id && e.attrs['Acct-Status-Type'] === 'Interim-Update' && e.attrs['Acct-Input-Gigawords'] === '5'),
    );
    expect(interim.attrs['Acct-Input-Octets']).toBe('123');
    expect(interim.attrs['Acct-Input-Packets']).toBe('77');
    expect(interim.attrs['Acct-Output-Octets']).toBe('7');
    expect(interim.attrs['Acct-Output-Gigawords']).toBe('0');
    expect(interim.attrs['Acct-Output-Packets']).toBe('1');
  });

  it('closes with a Stop carrying the final counters, and takes the entry out', async () => {
    const id = (await call(h, 'GET', '/v1/sessions?subscriber=alice')).json.sessions[0].id;
    meter.set('alice', 1000n + 5n * 2n ** 32n + 500n, 200n, 5000n + 900n, 50n);
    const r = await call(h, 'POST', `/v1/sessions/${id}/close`, {});
    expect(r.status).toBe(200);
    expect(r.json.session).toMatchObject({ state: 'closed', cause: 'admin-reset', usage: { up: { octets: String(5n * 2n ** 32n + 500n), packets: '190' }, down: { octets: '900', packets: '30' } } });
    expect(macEntry(h, ALICE_MAC)).toBeUndefined();
    const stop = await until('the Stop', () => radius.accounting().find((e) => e.attrs['Acct-Session-Id'] === id && e.attrs['Acct-Status-Type'] === 'Stop'));
    expect(stop.attrs).toMatchObject({ 'Acct-Input-Octets': '500', 'Acct-Input-Gigawords': '5', 'Acct-Output-Octets': '900', 'Acct-Terminate-Cause': 'Admin-Reset', 'Class': '0x616c7068612d676f6c64' });
    // the ledger holds every record, and the outbox says each was answered
    const show = (await call(h, 'GET', `/v1/sessions/${id}`)).json;
    await until('every record answered', () => h.sessions.store.outbox(id).every((o) => o.sentAt !== null));
    expect(show.records[0].kind).toBe('start');
    expect(show.records.at(-1)).toMatchObject({ kind: 'stop', up: { octets: String(5n * 2n ** 32n + 500n) } });
    // each record the ledger has arrived exactly once (by Acct-Session-Time + status)
    const arrived = radius.accounting().filter((e) => e.attrs['Acct-Session-Id'] === id);
    expect(arrived.length).toBe(h.sessions.store.ledger(id).length);
  });

  it('ends a session at its Session-Timeout (Stop with Session-Timeout)', async () => {
    const r = await call(h, 'POST', '/v1/sessions', { subscriber: 'bob', password: 'bob-pw' });
    expect(r.status).toBe(201);
    expect(macEntry(h, BOB_MAC)).toBeDefined();
    const id = r.json.session.id;
    await until('the session to time out', () => h.sessions.store.get(id)?.state === 'closed', 5000);
    expect(h.sessions.store.get(id)!.cause).toBe('session-timeout');
    expect(macEntry(h, BOB_MAC)).toBeUndefined();
    const stop = await until('the Stop', () => radius.accounting().find((e) => e.attrs['Acct-Session-Id'] === id && e.attrs['Acct-Status-Type'] === 'Stop'));
    expect(stop.attrs['Acct-Terminate-Cause']).toBe('Session-Timeout');
  });

  describe('CoA and Disconnect from radclient', () => {
    let sid: string;
    const target = () => `127.0.0.1:${coaPort}`;
    const now = () => Math.floor(Date.now() / 1000);

    beforeAll(async () => {
      const r = await call(h, 'POST', '/v1/sessions', { subscriber: 'carol', password: 'carol-pw' });
      expect(r.status).toBe(201);
      sid = r.json.session.id;
    });

    it('changes the rate of a session by CoA (CoA-ACK), in the subscriber\'s document', async () => {
      const r = await radclient(target(), 'coa', COA_SECRET, [`Acct-Session-Id = "${sid}"`, `Event-Timestamp = ${now()}`, 'WISPr-Bandwidth-Max-Down = 3000000', 'Message-Authenticator = 0x00']);
      expect(r.out).toMatch(/Received CoA-ACK/);
      expect(h.registry.subscriber('carol')!.rate).toEqual({ down: { rate: 3_000_000, burst: 15_180 } });
      const running = (await call(h, 'GET', '/v1/config')).json.config.subscribers.find((x: { name: string }) => x.name === 'carol');
      expect(running.rate).toEqual({ down: { rate: 3_000_000, burst: 15_180 } });
      expect(running.session).toBe(sid);
    });

    it('NAKs what it cannot do, with the Error-Cause', async () => {
      const nak = async (attrs: string[], cause: string) => {
        const r = await radclient(target(), 'coa', COA_SECRET, [`Event-Timestamp = ${now()}`, ...attrs]);
        expect(r.out).toMatch(/Received CoA-NAK/);
        expect(r.out).toContain(`Error-Cause = ${cause}`);
      };
      await nak([`Acct-Session-Id = "NOSUCHSESSION"`, 'WISPr-Bandwidth-Max-Down = 1000000'], 'Session-Context-Not-Found');
      await nak([`Acct-Session-Id = "${sid}"`], 'Missing-Attribute');
      await nak([`Acct-Session-Id = "${sid}"`, 'Reply-Message = "hello"', 'WISPr-Bandwidth-Max-Down = 1000000'], 'Unsupported-Attribute');
      await nak([`Acct-Session-Id = "${sid}"`, 'NAS-Identifier = "other"', 'WISPr-Bandwidth-Max-Down = 1000000'], 'NAS-Identification-Mismatch');
      const noTs = await radclient(target(), 'coa', COA_SECRET, [`Acct-Session-Id = "${sid}"`, 'WISPr-Bandwidth-Max-Down = 1000000']);
      expect(noTs.out).toContain('Error-Cause = Missing-Attribute');
      // nothing of it changed the rate
      expect(h.registry.subscriber('carol')!.rate).toEqual({ down: { rate: 3_000_000, burst: 15_180 } });
    });

    it('drops a wrong secret, a stale or replayed request, other codes and malformed packets, counted, and nothing else changes', async () => {
      const before = h.snapshot();
      const docBefore = JSON.stringify(h.registry.subscriber('carol'));
      const m0 = await h.metrics.render();
      const wrong = await radclient(target(), 'disconnect', 'not-the-secret', [`Acct-Session-Id = "${sid}"`, `Event-Timestamp = ${now()}`], { timeout: 1, retries: 1 });
      expect(wrong.out).not.toMatch(/Received Disconnect/);
      const stale = await radclient(target(), 'disconnect', COA_SECRET, [`Acct-Session-Id = "${sid}"`, `Event-Timestamp = ${now() - 3600}`], { timeout: 1, retries: 1 });
      expect(stale.out).not.toMatch(/Received Disconnect/);

      // a replay: the same signed bytes twice; the second is not carried out again
      const sock = createSocket('udp4');
      await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
      const answers: Buffer[] = [];
      sock.on('message', (m) => answers.push(m));
      const coa = signedRequest(Code.CoaRequest, 7, [attr(Attr.AcctSessionId, sid), attr(Attr.EventTimestamp, now()), { type: 26, value: Buffer.from('0000372a0806001e8480', 'hex') }], COA_SECRET);
      sock.send(coa, coaPort, '127.0.0.1');
      await until('the first answer', () => answers.length === 1);
      expect(decode(answers[0]!).code).toBe(Code.CoaAck);
      expect(h.registry.subscriber('carol')!.rate).toEqual({ down: { rate: 2_000_000, burst: 15_180 } });
      const afterFirst = h.snapshot();
      sock.send(coa, coaPort, '127.0.0.1');
      await until('the repeated answer', () => answers.length === 2);
      expect(answers[1]!.equals(answers[0]!)).toBe(true);

      // another code, and malformed packets (random, truncated, lying lengths, bad attributes)
      sock.send(signedRequest(Code.AccessRequest, 1, [attr(Attr.UserName, 'x')], COA_SECRET), coaPort, '127.0.0.1');
      let seed = 0x1234567;
      const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) & 0xff;
      const fuzz: Buffer[] = [Buffer.alloc(0), Buffer.alloc(19), Buffer.from('2b01ffff' + '00'.repeat(16), 'hex'), Buffer.from('2b010015' + '00'.repeat(16) + '01', 'hex'), Buffer.from('2b010017' + '00'.repeat(16) + '2c01ff', 'hex')];
      for (let i = 0; i < 200; i++) {
        const b = Buffer.from(coa);
        for (let j = 0; j < 1 + (i % 5); j++) b[rnd() % b.length] = rnd();
        if (i % 7 === 0) b.writeUInt16BE(rnd() << 4, 2);
        fuzz.push(i % 11 === 0 ? b.subarray(0, rnd() % b.length) : b);
      }
      for (const f of fuzz) {
        sock.send(f, coaPort, '127.0.0.1');
        await sleep(1); // paced: a burst could overrun the socket's receive buffer
      }
      let m1 = '';
      const d = (reason: string) => metric(m1, 'fecflow_radius_coa_refused_total', `reason="${reason}"`) - metric(m0, 'fecflow_radius_coa_refused_total', `reason="${reason}"`);
      const t0 = Date.now();
      do {
        await sleep(100);
        m1 = await h.metrics.render();
      } while (COA_REFUSALS.reduce((n, r) => n + d(r), 0) < 4 + fuzz.length && Date.now() - t0 < 3000);
      sock.close();
      // every packet but the first CoA was refused, each under one reason
      expect(COA_REFUSALS.reduce((n, r) => n + d(r), 0)).toBe(1 + 1 + 1 + 1 + fuzz.length);
      expect(d('bad_authenticator')).toBeGreaterThanOrEqual(1 + 50); // the wrong secret, and mutated packets
      expect(d('stale')).toBe(1);
      expect(d('replay')).toBeGreaterThanOrEqual(1); // (a mutation that wrote the same byte is a replay too)
      expect(d('unsupported_code')).toBeGreaterThanOrEqual(1);
      expect(d('malformed')).toBeGreaterThanOrEqual(5 + 10);
      // only the one good CoA changed anything: the session is open, the maps as after it
      expect(h.sessions.store.get(sid)!.state).toBe('open');
      expect(h.snapshot()).toBe(afterFirst);
      expect(before).toContain('sub_mac'); // (the snapshot is of every map)
      expect(JSON.stringify(h.registry.subscriber('carol'))).not.toBe(docBefore);
      // a replay is answered with the first answer again and nothing else is answered
      expect(answers.every((a) => a.equals(answers[0]!))).toBe(true);
    });

    it('refuses a source address that is not the ISP\'s', async () => {
      const m0 = await h.metrics.render();
      // from 127.0.0.2: a loopback address that alpha does not list
      const sock = createSocket('udp4');
      await new Promise<void>((r) => sock.bind(0, '127.0.0.2', () => r()));
      sock.send(signedRequest(Code.DisconnectRequest, 9, [attr(Attr.AcctSessionId, sid), attr(Attr.EventTimestamp, now())], COA_SECRET), coaPort, '127.0.0.1');
      await sleep(200);
      sock.close();
      const m1 = await h.metrics.render();
      expect(metric(m1, 'fecflow_radius_coa_refused_total', 'reason="unknown_client"') - metric(m0, 'fecflow_radius_coa_refused_total', 'reason="unknown_client"')).toBe(1);
      expect(h.sessions.store.get(sid)!.state).toBe('open');
    });

    it('ends the session by Disconnect-Request (Disconnect-ACK), and the entry is gone', async () => {
      expect(macEntry(h, '02:00:00:00:0c:01')).toBeDefined();
      const r = await radclient(target(), 'disconnect', COA_SECRET, [`User-Name = "carol"`, `Event-Timestamp = ${now()}`, 'Message-Authenticator = 0x00']);
      expect(r.out).toMatch(/Received Disconnect-ACK/);
      expect(h.sessions.store.get(sid)).toMatchObject({ state: 'closed', cause: 'disconnect' });
      expect(macEntry(h, '02:00:00:00:0c:01')).toBeUndefined();
      const stop = await until('the Stop', () => radius.accounting().find((e) => e.attrs['Acct-Session-Id'] === sid && e.attrs['Acct-Status-Type'] === 'Stop'));
      expect(stop.attrs['Acct-Terminate-Cause']).toBe('Admin-Reset');
      // a second Disconnect finds no session
      const again = await radclient(target(), 'disconnect', COA_SECRET, [`User-Name = "carol"`, `Event-Timestamp = ${now()}`]);
      expect(again.out).toMatch(/Received Disconnect-NAK/);
      expect(again.out).toContain('Session-Context-Not-Found');
    });
  });
});

describe.skipIf(!HAVE_FREERADIUS && process.env.CI !== 'true')('a walled garden', () => {
  it('puts session-admitted subscribers without a session into the walled-garden ISP', async () => {
    const radius = await FreeRadius.start({ secret: SECRET, users: [{ name: 'alice', password: 'alice-pw' }] });
    const h = await startHarness(config(radius, await freeUdpPort(), '  walledGarden: garden\n'));
    try {
      const entryIsp = () => macEntry(h, ALICE_MAC)?.toString('hex');
      const garden = entryIsp();
      expect(garden).toBeDefined();
      const r = await call(h, 'POST', '/v1/sessions', { subscriber: 'alice', password: 'alice-pw' });
      expect(r.status).toBe(201);
      expect(entryIsp()).not.toBe(garden);
      await call(h, 'POST', `/v1/sessions/${r.json.session.id}/close`, {});
      expect(entryIsp()).toBe(garden);
    } finally {
      await h.close();
      await radius.close();
    }
  }, 30_000);
});
