// `fecflow ldp neighbors|bindings|discovery` against a stand-in
// API that serves the views of two real speakers in session over loopback: the tables an
// operator reads and the --json that scripts read.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../control/cli/main.js';
import { bindingsTable, ldpCommand } from '../../control/cli/commands/ldp.js';
import { encodeMessage } from '../../control/ldp/messages.js';
import { encodePdu } from '../../control/ldp/pdu.js';
import { LdpSpeaker } from '../../control/ldp/speaker.js';
import { freePort } from '../ldp/port.js';

const PORT = await freePort();
let a: LdpSpeaker;
let b: LdpSpeaker;
let api: Server;
let url: string;

const hello = (id: string, t: string) => encodePdu(id, 0, [encodeMessage({ kind: 'hello', id: 1, holdTime: 15, targeted: false, requestTargeted: false, gtsm: false, transportAddress: t })]);

beforeAll(async () => {
  const common = { interfaces: [], port: PORT, acceptTransport: () => true };
  a = new LdpSpeaker({ ...common, lsrId: '1.1.1.1', transportAddress: '127.0.0.1', egress: ['198.51.100.0/24'], labelRange: [1000, 1999], localAddresses: () => ['127.0.0.1'] });
  b = new LdpSpeaker({ ...common, lsrId: '2.2.2.2', transportAddress: '127.0.0.2', egress: ['203.0.113.0/24'], labelRange: [2000, 2999], localAddresses: () => ['127.0.0.2'] });
  await a.start();
  await b.start();
  a.receiveHello(hello('2.2.2.2', '127.0.0.2'), '127.0.0.2', 'lo');
  b.receiveHello(hello('1.1.1.1', '127.0.0.1'), '127.0.0.1', 'lo');
  for (let i = 0; i < 200 && a.bindings().length < 2; i++) await new Promise((r) => setTimeout(r, 10));
  api = createServer((req, res) => {
    const body = req.url === '/v1/ldp/neighbors' ? { neighbors: a.neighbors() } : req.url === '/v1/ldp/bindings' ? { bindings: a.bindings() } : req.url === '/v1/ldp/discovery' ? { discovery: a.discovery() } : undefined;
    res.writeHead(body ? 200 : 404, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body ?? { error: 'not found' }));
  });
  await new Promise<void>((r) => api.listen(0, '127.0.0.1', () => r()));
  url = `http://127.0.0.1:${(api.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await a?.stop();
  await b?.stop();
  api?.close();
});

async function run(args: string[]) {
  let out = '';
  let err = '';
  const code = await main(['node', 'fecflow', ...args], { out: (t) => void (out += t), err: (t) => void (err += t), isTTY: false }, { FECFLOW_URL: url, FECFLOW_TOKEN: 't' }, [ldpCommand]);
  return { code, out, err };
}

describe('fecflow ldp', () => {
  it('bindings: one row per FEC and neighbour, the egress FEC marked', async () => {
    const r = await run(['ldp', 'bindings']);
    expect(r.code).toBe(0);
    expect(r.out.split('\n').filter(Boolean)).toEqual([
      expect.stringMatching(/^FEC\s+LOCAL LABEL\s+NEIGHBOR\s+REMOTE LABEL\s+IN USE$/),
      expect.stringMatching(/^198\.51\.100\.0\/24\s+1000 \(egress\)\s+-\s+-\s+no$/),
      expect.stringMatching(/^203\.0\.113\.0\/24\s+-\s+2\.2\.2\.2\s+2000\s+no$/),
    ]);
  });

  it('neighbors and discovery: state, role and the adjacency', async () => {
    const n = await run(['ldp', 'neighbors']);
    expect(n.out).toMatch(/2\.2\.2\.2\s+127\.0\.0\.2\s+OPERATIONAL\s+passive\s+\d\d:\d\d:\d\d/);
    const d = await run(['ldp', 'discovery']);
    expect(d.out).toContain('LSR ID 1.1.1.1, transport address 127.0.0.1');
    expect(d.out).toMatch(/2\.2\.2\.2\s+lo\s+127\.0\.0\.2\s+127\.0\.0\.2\s+15 s/);
  });

  it('--json prints the speaker views unchanged', async () => {
    expect(JSON.parse((await run(['ldp', 'bindings', '--json'])).out)).toEqual(a.bindings());
    const n = JSON.parse((await run(['ldp', 'neighbors', '--json'])).out);
    expect(n).toEqual([expect.objectContaining({ neighborId: '2.2.2.2', state: 'OPERATIONAL', role: 'passive' })]);
  });

  it('prints implicit null as imp-null', () => {
    expect(bindingsTable([{ prefix: '10.0.0.0/24', egress: false, localLabel: null, remote: [{ neighborId: '9.9.9.9', remoteLabel: 3, inUse: true }] }])).toMatch(/10\.0\.0\.0\/24\s+-\s+9\.9\.9\.9\s+imp-null\s+yes/);
  });
});
