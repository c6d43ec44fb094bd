// The broker's commands against a real API server: provider add/list/show/revoke, cpe
// enrol/list/show/revoke, broker sessions/stats/key, with their tables, --json and usage errors.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../control/cli/main.js';
import { startHarness, type Harness } from '../api/fakes.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h.close();
});

async function run(args: string[], env: Record<string, string> = {}) {
  let out = '';
  let err = '';
  const code = await main(['node', 'fecflow', ...args], { out: (t) => void (out += t), err: (t) => void (err += t), isTTY: false }, { FECFLOW_URL: h.url, FECFLOW_TOKEN: h.token, ...env });
  return { code, out, err };
}

describe('fecflow provider and cpe', () => {
  it('registers providers from flags, lists and shows them', async () => {
    const secretFile = join(h.dir, 'hook-secret');
    writeFileSync(secretFile, 'a-webhook-secret-of-some-length\n');
    const a = await run(['provider', 'add', 'alpha', '--currency', 'EUR', '--per-gb', '0.50', '--per-gb', 'ipv4_udp=0.25', '--monthly', '5', '--per-minute', '0.01', '--up', '50Mbit', '--down', '200Mbit', '--traffic', 'ipv4_tcp,ipv4_udp', '--token-ttl', '300', '--webhook', 'https://alpha.example/hook', '--webhook-secret-file', secretFile]);
    expect(a.code, a.err).toBe(0);
    expect(a.out).toBe('provider alpha registered (isp, billed to cpe)\n');
    const v = await run(['provider', 'add', 'video', '--kind', 'asp', '--currency', 'EUR', '--bill-to', 'provider', '--json']);
    expect(v.code, v.err).toBe(0);
    expect(JSON.parse(v.out)).toMatchObject({ name: 'video', kind: 'asp', profile: { billTo: 'provider', tokenTtl: 900, plan: { traffic: expect.arrayContaining(['ipv6_other']) } } });
    const list = await run(['provider', 'list']);
    expect(list.out.split('\n')[0]).toMatch(/^PROVIDER\s+KIND\s+BILL TO/);
    expect(list.out).toMatch(/alpha\s+isp\s+cpe\s+EUR\s+5\s+0.01\s+https:\/\/alpha.example\/hook\s+active/);
    const show = await run(['provider', 'show', 'alpha']);
    expect(show.out).toContain('plan: up 50Mbit, down 200Mbit, traffic ipv4_tcp,ipv4_udp');
    expect(show.out).toContain('per GB *=0.50 ipv4_udp=0.25');
    expect(show.out).not.toContain('a-webhook-secret');
  });

  it('refuses bad flags with exit 2, and what the API refuses with exit 1 and its message', async () => {
    expect((await run(['provider', 'add', 'alpha'])).code).toBe(2); // --currency missing
    expect((await run(['provider', 'add', 'x', '--currency', 'EUR', '--kind', 'telco'])).code).toBe(2);
    expect((await run(['provider', 'add', 'x', '--currency', 'EUR', '--traffic', 'smoke_signals'])).code).toBe(2);
    expect((await run(['provider', 'add', 'x', '--currency', 'EUR', '--webhook', 'https://x.example/h'], {})).code).toBe(2); // no secret
    const r = await run(['provider', 'add', 'gamma', '--currency', 'EUR']);
    expect(r.code).toBe(1);
    expect(r.err).toBe("fecflow: the router file has no ISP 'gamma' (a provider of kind isp is one of its ISPs; any other is kind asp)\n");
    expect((await run(['bill', '--period', '2026-13'])).code).toBe(2);
  });

  it('enrols a CPE (the code alone on stdout), lists, shows and revokes it', async () => {
    const e = await run(['cpe', 'enrol', '--name', 'alice', '--isp', 'alpha', '--subscriber', 's1']);
    expect(e.code, e.err).toBe(0);
    expect(e.out).toMatch(/^([0-9A-Z]{4}-){5}[0-9A-Z]{4}\n$/);
    expect(e.err).toMatch(/one use, valid until/);
    expect((await run(['cpe', 'list'])).out).toMatch(/alice\s+alpha\s+s1\s+awaiting enrolment/);
    expect((await run(['cpe', 'show', 'alice'])).out).toContain('cpe alice: awaiting enrolment; line s1, home ISP alpha');
    expect((await run(['cpe', 'revoke', 'alice'])).out).toBe('cpe alice revoked; 0 session(s) closed\n');
    const again = await run(['cpe', 'revoke', 'alice']);
    expect(again.code).toBe(1);
    expect(again.err).toMatch(/revoked already/);
    expect((await run(['provider', 'revoke', 'video'])).out).toBe('provider video revoked; 0 session(s) closed\n');
  });

  it('prints the broker key, its counters and sessions', async () => {
    expect((await run(['broker', 'key'])).out).toMatch(/^-----BEGIN PUBLIC KEY-----\n[\s\S]+-----END PUBLIC KEY-----\n$/);
    const st = await run(['broker', 'stats', '--json']);
    expect(JSON.parse(st.out)).toMatchObject({ opened: 0, refused: { bad_code: 0 } });
    expect((await run(['broker', 'sessions'])).out).toMatch(/^SESSION\s+CPE\s+PROVIDER/);
    expect((await run(['bill', '--period', '2026-11'])).out).toBe('no usage in 2026-11\n');
  });
});
