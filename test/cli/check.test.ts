// `fecflow check -f FILE`: offline validation of a router file. The examples pass with a
// one-line summary (exit 0); a broken file lists every problem with its path (exit 1); a file
// that cannot fit the data plane's maps is refused; and it runs as an unprivileged user with no
// daemon and no BPF object.
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../../control/cli/main.js';
import { FF_ILM_ENTRIES, FF_LOCAL_ENTRIES } from '../../control/tables/shared.gen.js';

const root = join(import.meta.dirname, '../..');
const examples = join(root, 'deploy/examples');
const dir = mkdtempSync(join(tmpdir(), 'fecflow-check-'));
chmodSync(dir, 0o755);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function run(args: string[]) {
  let out = '';
  let err = '';
  // no daemon anywhere: a URL nothing listens on, to show check never asks one
  const code = await main(['node', 'fecflow', ...args], { out: (t) => void (out += t), err: (t) => void (err += t), isTTY: false }, { FECFLOW_URL: 'http://127.0.0.1:1' });
  return { code, out, err };
}

function file(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text, { mode: 0o644 });
  return p;
}

const BROKEN = `node: Bad_Node
interfaces:
  - name: core0
    role: core
    neighbours: { p1: "02:00:00:00:00:01" }
  - { name: acc0, role: access, mtu: 20 }
isps:
  - { id: 1, name: alpha, upstream: { labels: [100], nexthop: { interface: core0, neighbour: constructor } } }
  - { id: 1, name: beta }
subscribers:
  - { name: alice, isp: alpha, match: { vlan: { interface: acc0, outer: 5, tpid: toString } } }
  - { name: bob, isp: nope, match: { mac: "02:00:00:00:01:01" } }
ilm:
  - { label: 3, action: pop-continue }
`;

describe('fecflow check', () => {
  it('passes every example with a one-line summary and exit 0', async () => {
    const want: Record<string, string> = {
      'headend.yaml': 'valid — node headend-1, 3 interfaces, 2 ISPs, 5 subscribers, 2 incoming labels',
      'lsr.yaml': 'valid — node lsr-1, 2 interfaces, 2 ISPs, 0 subscribers, 6 incoming labels',
      'tailend.yaml': 'valid — node tailend-1, 3 interfaces, 2 ISPs, 0 subscribers, 2 incoming labels',
      'small-site.yaml': 'valid — node small-site, 3 interfaces, 2 ISPs, 2 subscribers, 3 incoming labels',
    };
    for (const [f, line] of Object.entries(want)) {
      const path = join(examples, f);
      expect(await run(['check', '-f', path])).toEqual({ code: 0, out: `${path}: ${line}\n`, err: '' });
    }
  });

  it('lists every problem of a broken file with its path and exits 1', async () => {
    const p = file('broken.yaml', BROKEN);
    const r = await run(['check', '-f', p]);
    expect(r.code).toBe(1);
    expect(r.out).toBe('');
    expect(r.err).toBe(
      [
        `fecflow: ${p}: invalid configuration (8 problems)`,
        '  node: node must be 1..64 characters of a-z, 0-9, "-" or "_" (it names the pin directory)',
        '  interfaces[1].mtu: mtu must be 68..65535',
        "  isps[0].upstream.nexthop.neighbour: unknown neighbour 'constructor' on interface 'core0' (known: p1)",
        '  isps[1].id: duplicate ISP id 1 (also isps[0])',
        "  subscribers[0].match.vlan.tpid: tpid 'toString' must be '802.1Q' (0x8100) or '802.1ad' (0x88a8)",
        "  subscribers[1].isp: unknown ISP 'nope'",
        "  subscribers[1].match: a match by MAC or prefix holds only on the subscriber's access port: name it in deliver.interface (or match.vlan); this node has 0 access interfaces",
        '  ilm[0].label: label 3 is reserved (0..15) and cannot be an incoming label',
        '',
      ].join('\n'),
    );
  });

  it('prints the problems as JSON with --json, still exiting 1', async () => {
    const p = file('broken2.yaml', 'node: r1\ninterfaces:\n  - { name: x, role: router }\n');
    const r = await run(['check', '-f', p, '--json']);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.out)).toEqual({ ok: false, file: p, problems: [{ path: 'interfaces[0].role', message: "role must be 'access', 'core' or 'isp'" }] });
    expect(r.err).toBe(`fecflow: ${p}: 1 problem\n`);
  });

  it('reports a half-written, unparsable or missing file as a problem of the document', async () => {
    const cut = file('cut.yaml', 'node: r1\ninterfaces:\n  - name: co');
    expect((await run(['check', '-f', cut])).err).toBe(
      `fecflow: ${cut}: invalid configuration (1 problem)\n  (document): the file does not end with a newline: it looks truncated (half-written?)\n`,
    );
    const bad = file('bad.yaml', 'node: [r1\n');
    const r = await run(['check', '-f', bad]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^fecflow: .*bad\.yaml: invalid configuration \(\d+ problems?\)\n {2}\(document\): not valid YAML/);
    const missing = await run(['check', '-f', join(dir, 'nope.yaml')]);
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/cannot read .*nope\.yaml/);
  });

  it('refuses a file that cannot fit the data plane (more own addresses than the local table holds)', async () => {
    const addrs = Array.from({ length: FF_LOCAL_ENTRIES + 1 }, (_, i) => `10.${i >> 8}.${i & 255}.1/32`).join(', ');
    const p = file('big.yaml', `node: r1\ninterfaces:\n  - { name: acc0, role: access, addresses: [${addrs}] }\n`);
    const r = await run(['check', '-f', p]);
    expect(r.code).toBe(1);
    expect(r.err).toBe(
      `fecflow: ${p}: invalid configuration (1 problem)\n` +
        `  interfaces: ${FF_LOCAL_ENTRIES + 1} the router's own addresses, but the data plane's local table holds at most ${FF_LOCAL_ENTRIES}: the configuration cannot fit\n`,
    );
  });

  it('shows each table with its entries and capacity in --json for a valid file', async () => {
    const r = await run(['check', '-f', join(examples, 'headend.yaml'), '--json']);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(j).toMatchObject({ ok: true, node: 'headend-1', interfaces: 3, isps: 2, subscribers: 5, labels: 2 });
    expect(j.tables.find((t: { table: string }) => t.table === 'ilm')).toEqual({ table: 'ilm', entries: 2, capacity: FF_ILM_ENTRIES });
  });

  it('runs as an unprivileged user: no root, no daemon, no BPF', () => {
    if (process.getuid?.() !== 0) {
      // already unprivileged: run it as we are
      const r = spawnSync(process.execPath, [join(root, 'bin/fecflow.js'), 'check', '-f', join(examples, 'headend.yaml')], { encoding: 'utf8' });
      expect(r.status).toBe(0);
      return;
    }
    const good = file('good.yaml', readFileSync(join(examples, 'headend.yaml'), 'utf8'));
    const bad = file('broken3.yaml', BROKEN);
    const as = (p: string) =>
      spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, join(root, 'bin/fecflow.js'), 'check', '-f', p], {
        encoding: 'utf8',
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
      });
    const ok = as(good);
    expect([ok.status, ok.stdout, ok.stderr]).toEqual([0, `${good}: valid — node headend-1, 3 interfaces, 2 ISPs, 5 subscribers, 2 incoming labels\n`, '']);
    const no = as(bad);
    expect(no.status).toBe(1);
    expect(no.stderr).toMatch(/invalid configuration \(8 problems\)/);
  });
});
