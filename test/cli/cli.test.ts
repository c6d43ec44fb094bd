// The CLI end to end against a real API server (fake data plane): argument parsing, exit codes
// (0 ok, 1 failure, 2 usage), human tables and --json, the one-line errors, CSV import.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../control/cli/main.js';
import { parseSubscriberCsv } from '../../control/cli/csv.js';
import { rates } from '../../control/cli/commands/stats.js';
import { table, si } from '../../control/cli/output.js';
import { startHarness, type Harness } from '../api/fakes.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h.close();
});

async function run(args: string[], env: Record<string, string> = {}, tty = false) {
  let out = '';
  let err = '';
  const code = await main(['node', 'fecflow', ...args], { out: (t) => void (out += t), err: (t) => void (err += t), isTTY: tty }, { FECFLOW_URL: h.url, FECFLOW_TOKEN: h.token, ...env });
  return { code, out, err };
}

describe('exit codes and usage', () => {
  it('exits 2 on an unknown command, an unknown option or a missing argument', async () => {
    expect((await run(['bogus'])).code).toBe(2);
    expect((await run(['isp', 'list', '--bogus'])).code).toBe(2);
    expect((await run(['isp', 'remove'])).code).toBe(2);
    expect((await run(['subscriber', 'move', '--mac', '02:00:00:00:00:01'])).code).toBe(2); // --isp missing
    expect((await run(['isp'])).code).toBe(2); // a group without subcommand
  });

  it('exits 2 when no or two matches are given, or a VLAN is malformed', async () => {
    const r = await run(['subscriber', 'move', '--isp', 'beta']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/exactly one of --mac, --vlan, --prefix/);
    expect((await run(['subscriber', 'move', '--isp', 'beta', '--mac', '02:00:00:00:00:01', '--prefix', '10.0.0.0/8'])).code).toBe(2);
    const v = await run(['subscriber', 'assign', '--isp', 'beta', '--vlan', 'acc:5000']);
    expect(v.code).toBe(2);
    expect(v.err).toMatch(/VLAN ids are 1..4094/);
  });

  it('exits 0 for --help and --version', async () => {
    const r = await run(['--help']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/subscriber/);
    expect((await run(['--version'])).code).toBe(0);
  });

  it('says in one line what to do when the daemon is not there', async () => {
    const r = await run(['status'], { FECFLOW_URL: 'http://127.0.0.1:1' });
    expect(r.code).toBe(1);
    expect(r.err).toBe('fecflow: cannot reach the daemon at http://127.0.0.1:1: is `fecflow serve` running?\n');
  });

  it('exits 1 with a clear line on a missing or wrong token', async () => {
    const r = await run(['subscriber', 'move', '--mac', '02:00:00:00:00:01', '--isp', 'beta'], { FECFLOW_TOKEN: 'wrong' });
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^fecflow: the daemon at http:\/\/127\.0\.0\.1:\d+ refused the API token/);
  });

  it('exits 1 and lists the issues when the daemon refuses a change', async () => {
    const r = await run(['subscriber', 'move', '--mac', '02:00:00:00:00:01', '--isp', 'nobody']);
    expect(r.code).toBe(1);
    expect(r.err).toBe("fecflow: no ISP named 'nobody'\n");
  });
});

describe('listings', () => {
  it('prints ISPs as a table and as JSON', async () => {
    const r = await run(['isp', 'list']);
    expect(r.code).toBe(0);
    expect(r.out.split('\n')[0]).toMatch(/^ISP\s+INDEX\s+UP\s+DOWN\s+SUBSCRIBERS$/);
    expect(r.out).toMatch(/alpha\s+1\s+unlimited\s+unlimited\s+1/);
    const j = await run(['isp', 'list', '--json']);
    expect(JSON.parse(j.out).map((i: { name: string }) => i.name)).toEqual(['alpha', 'beta']);
  });

  it('prints status, FECs, labels and subscribers', async () => {
    const s = await run(['status']);
    expect(s.out).toMatch(/^node test: ready/);
    expect(s.out).toMatch(/acc\s+access\s+native\s+10\s+tagaccess/);
    expect((await run(['fec', 'show'])).out).toMatch(/up\s+alpha\s+-\s+100\s+0\s+core 02:00:00:00:00:99/);
    expect((await run(['labels', 'show'])).out).toMatch(/1000\s+pop-forward/);
    const sub = await run(['subscriber', 'list', '--json']);
    expect(JSON.parse(sub.out)[0]).toMatchObject({ isp: 'alpha', match: { mac: '02:00:00:00:00:01' } });
    expect(JSON.parse((await run(['status', '--json'])).out).node).toBe('test');
  });

  it('stats prints rates from two samples', async () => {
    h.dp.isp = [{ isp: 1, direction: 'up', point: 'in', packets: 0n, bytes: 0n }];
    const p = run(['stats', '--interval', '0.3', '--json']);
    setTimeout(() => {
      h.dp.isp = [{ isp: 1, direction: 'up', point: 'in', packets: 300n, bytes: 300_000n }];
    }, 100);
    const r = await p;
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    const alpha = j.isps.find((i: { isp: string }) => i.isp === 'alpha');
    expect(alpha.upPps).toBeGreaterThan(500);
    expect(alpha.upPps).toBeLessThan(1200);
    expect(alpha.upBps).toBeCloseTo(alpha.upPps * 8000, -2);
  });
});

describe('changes', () => {
  it('moves a subscriber, with --dry-run first', async () => {
    const d = await run(['subscriber', 'move', '--mac', '02:00:00:00:00:01', '--isp', 'beta', '--dry-run']);
    expect(d.code).toBe(0);
    expect(d.out).toMatch(/sub_mac: 0 added, 1 changed, 0 removed/);
    expect(d.out).toMatch(/dry run: .* would write 1 and delete 0 map entries; nothing was changed/);
    const r = await run(['subscriber', 'move', '--mac', '02:00:00:00:00:01', '--isp', 'beta']);
    expect(r.code).toBe(0);
    expect(r.out).toBe('moved subscriber mac 02:00:00:00:00:01 to beta: 1 map entries written, 0 deleted\n');
    expect(h.maps.get('sub_mac')!.data.get('0200000000010000')!.readUInt32LE(0)).toBe(2);
  });

  it('assigns by VLAN and sets a rate', async () => {
    expect((await run(['subscriber', 'assign', '--vlan', 'acc:100:20', '--isp', 'alpha'])).code).toBe(0);
    expect(h.maps.get('sub_vlan')!.data.size).toBe(1);
    const r = await run(['isp', 'set-rate', 'beta', '--down', '1Gbit', '--burst', '1MB']);
    expect(r.code).toBe(0);
    expect((await run(['isp', 'list'])).out).toMatch(/beta\s+2\s+unlimited\s+1Gbit \(burst 1MB\)/);
  });

  it('imports a CSV atomically and maps a bad row back to its line', async () => {
    const good = join(h.dir, 'subs.csv');
    writeFileSync(good, 'mac,isp\n02:00:00:00:30:01,alpha\n02:00:00:00:30:02,beta\n');
    const r = await run(['subscriber', 'import', good]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/imported 2 subscribers \(2 added, 0 moved, 0 removed, 0 unchanged\)/);
    const bad = join(h.dir, 'bad.csv');
    writeFileSync(bad, 'mac,isp\n02:00:00:00:30:03,alpha\n\n02:00:00:00:30:04,nobody\n');
    const before = h.snapshot();
    const b = await run(['subscriber', 'import', bad]);
    expect(b.code).toBe(1);
    expect(b.err).toMatch(/line 4 \(isp\): no ISP named 'nobody'/);
    expect(h.snapshot()).toBe(before);
  });

  it('shows a progress bar only on a TTY', async () => {
    const f = join(h.dir, 'many.csv');
    writeFileSync(f, 'mac,isp\n' + Array.from({ length: 500 }, (_v, i) => `02:00:00:01:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')},beta`).join('\n') + '\n');
    const tty = await run(['subscriber', 'import', f], {}, true);
    expect(tty.code).toBe(0);
    expect(tty.out).toMatch(/uploading \[#+\] 100% 500\/500/);
    const pipe = await run(['subscriber', 'import', f]);
    expect(pipe.out).not.toMatch(/uploading/);
  });

  it('rotates the token and prints the new one', async () => {
    const r = await run(['token', 'rotate']);
    expect(r.code).toBe(0);
    const t = r.out.trim();
    expect(t).toMatch(/^[0-9a-f]{64}$/);
    h.token = t;
    expect((await run(['status'])).code).toBe(0);
  });

  it('refuses detach without --yes (usage)', async () => {
    const r = await run(['detach']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--yes/);
    expect(h.dp.detached).toBe(false);
  });

  it('prints a bash completion script naming every command', async () => {
    const r = await run(['completion']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/complete -F _fecflow_complete fecflow/);
    expect(r.out).toMatch(/"subscriber"\) words="list assign move remove import/);
    expect(r.out).toMatch(/"isp set-rate"\) words=".*--up.*--down/);
  });
});

describe('pure helpers', () => {
  it('parses the import CSV with quotes, comments and VLANs, and reports bad lines', () => {
    const r = parseSubscriberCsv('# comment\nisp,mac,vlan\n"alpha",02:00:00:00:00:0A,\nbeta,,acc:100:20\nbeta,zz,\n');
    expect(r.rows).toEqual([
      { isp: 'alpha', mac: '02:00:00:00:00:0a' },
      { isp: 'beta', vlan: { interface: 'acc', outer: 100, inner: 20 } },
    ]);
    expect(r.lines).toEqual([3, 4]);
    expect(r.errors).toEqual([{ line: 5, message: "'zz' is not a MAC address" }]);
  });

  it('computes rates and treats a counter reset as a restart from zero', () => {
    const pc = (p: number | string, b: number | string) => ({ packets: String(p), bytes: String(b) });
    const z = { in: pc(0, 0), out: pc(0, 0), policed: pc(0, 0), transit: pc(0, 0) };
    const a = { at: 0, isps: [{ isp: 'a', index: 1, up: { ...z, in: pc(100, 10_000) }, down: z }], drops: [{ reason: 'no_fec', packets: '5', bytes: '0' }] };
    const b = { at: 2000, isps: [{ isp: 'a', index: 1, up: { ...z, in: pc(300, 30_000) }, down: { ...z, out: pc(50, 5000) } }], drops: [{ reason: 'no_fec', packets: '1', bytes: '0' }] };
    const r = rates(a, b);
    expect(r.isps[0]).toEqual({ isp: 'a', upPps: 100, upBps: 80_000, downPps: 25, downBps: 20_000, policedPps: 0 });
    expect(r.drops[0]).toEqual({ reason: 'no_fec', pps: 0.5, total: 1n });
  });

  it('computes rates exactly between counters above 2^53 (strings, not doubles)', () => {
    // 2^53 + 1 and 2^53 + 3 are both rounded to 2^53 (+4) as doubles; as strings the difference is 2
    const pc = (p: string) => ({ packets: p, bytes: p });
    const z = { in: pc('0'), out: pc('0'), policed: pc('0'), transit: pc('0') };
    const a = { at: 0, isps: [{ isp: 'a', index: 1, up: { ...z, in: pc('9007199254740993') }, down: z }], drops: [] };
    const b = { at: 1000, isps: [{ isp: 'a', index: 1, up: { ...z, in: pc('9007199254740995') }, down: z }], drops: [] };
    expect(rates(a, b).isps[0]).toMatchObject({ upPps: 2, upBps: 16 });
  });

  it('formats tables and SI numbers', () => {
    expect(table(['name', 'n'], [['a', 1], ['bbb', 22]])).toBe('NAME   N\na      1\nbbb   22\n');
    expect(si(1_234_567, 'bit/s')).toBe('1.23 Mbit/s');
    expect(si(999)).toBe('999');
    expect(si(0, 'bit/s')).toBe('0 bit/s');
  });
});
