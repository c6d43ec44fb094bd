// The Debian package end to end on this machine: `./run package` builds it, lintian finds no
// error or warning, dpkg installs it, the installed `fecflow` runs far from the repository, the
// unit passes `systemd-analyze verify`, the installed daemon attaches, an upgrade and `dpkg -r`
// keep forwarding and /var/lib/fecflow, and `dpkg -P` detaches and deletes them. It installs into
// the real /usr, /lib and /var (CI's machine is thrown away), refuses to run where fecflow is
// already installed or its state exists, and purges whatever it installed even on failure.
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { BpfMap } from '../../control/bpf/index.js';
import { describeRoot, inCi } from '../helpers/root.js';
import { Lab, uniqueName } from '../helpers/netns.js';

const ROOT = join(import.meta.dirname, '..', '..');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string; dependencies: Record<string, string> };
const VERSION = `${pkg.version}-1`;
const BUILD_ONLY = new Set(['node-gyp', 'node-addon-api']);
const PIN_ROOT = '/sys/fs/bpf/fecflow';
const STATE = '/var/lib/fecflow';
const UNIT = '/lib/systemd/system/fecflow.service';
const WANTS = '/etc/systemd/system/multi-user.target.wants/fecflow.service';

// `fecflow check -f` (issue 12, item 2) is tested as soon as the CLI has it; until then the
// test shows as skipped with this reason.

function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', cwd: opts.cwd, env: opts.env ?? process.env, timeout: opts.timeoutMs ?? 120_000 });
  return { code: r.status, out: r.stdout ?? '', err: r.stderr ?? '' };
}

/** dpkg, waiting while another dpkg/apt holds the lock (other work on the machine). */
function dpkg(args: string[]): { code: number | null; out: string; err: string } {
  const t0 = Date.now();
  for (;;) {
    const r = run('dpkg', args, { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    if (r.code === 0 || !/lock/i.test(r.err) || Date.now() - t0 > 180_000) return r;
    execFileSync('sleep', ['3']);
  }
}

function installed(): boolean {
  return run('dpkg-query', ['-W', '-f=${Status}', 'fecflow']).out.includes('install ok installed');
}

function xdpProgId(ns: string, dev: string): number | undefined {
  const j = JSON.parse(run('ip', ['-n', ns, '-j', 'link', 'show', 'dev', dev]).out) as Array<{ xdp?: { prog?: { id: number } } }>;
  return j[0]?.xdp?.prog?.id;
}

async function waitFor(what: string, ok: () => boolean, ms = 30_000, log = () => ''): Promise<void> {
  const t0 = Date.now();
  while (!ok()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}\n${log()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describeRoot('Debian package (installs on this machine, purged at the end)', () => {
  const lab = new Lab();
  const tmp = mkdtempSync(join(tmpdir(), 'fecflow-deb-test-'));
  let deb = '';
  let weInstalled = false;
  let daemon: ChildProcess | undefined;

  beforeAll(() => {
    // Never clobber a real installation or someone's state.
    const inTheWay = ['/usr/bin/fecflow', STATE, PIN_ROOT, UNIT].filter((p) => existsSync(p));
    if (installed() || inTheWay.length) {
      throw new Error(`fecflow is installed or its files exist (${inTheWay.join(', ') || 'dpkg says installed'}); this test installs and purges the package, so it will not run here`);
    }
    const t0 = Date.now();
    const r = run('bash', [join(ROOT, 'scripts', 'package', 'build-deb.sh')], { cwd: ROOT, timeoutMs: 900_000 });
    if (r.code !== 0) throw new Error(`build-deb.sh failed (${r.code}):\n${r.out}\n${r.err}`);
    deb = join(ROOT, 'dist-deb', `fecflow_${VERSION}_amd64.deb`);
    console.log(`package built in ${((Date.now() - t0) / 1000).toFixed(0)} s: ${r.out.trim()}`);
  }, 900_000);

  afterAll(() => {
    if (daemon?.pid && daemon.exitCode === null) daemon.kill('SIGKILL');
    if (weInstalled || installed()) dpkg(['--purge', 'fecflow']);
    lab.cleanup();
    rmSync(tmp, { recursive: true, force: true });
  }, 300_000);

  it('holds the program, unit, completion, man page and docs, all owned root:root', () => {
    const lines = run('dpkg-deb', ['--contents', deb]).out.trim().split('\n');
    const files = new Set(lines.map((l) => l.split(/\s+/)[5]!.replace(/ -> .*/, '')));
    expect(lines.length).toBeGreaterThan(100);
    expect(lines.filter((l) => l.split(/\s+/)[1] !== 'root/root')).toEqual([]);
    for (const f of [
      './usr/bin/fecflow',
      './usr/lib/fecflow/package.json',
      './usr/lib/fecflow/bin/fecflow.js',
      './usr/lib/fecflow/dist/control/cli/main.js',
      './usr/lib/fecflow/build/bpf/fecflow.bpf.o',
      './usr/lib/fecflow/build/Release/fecflow_bpf.node',
      './lib/systemd/system/fecflow.service',
      './usr/share/bash-completion/completions/fecflow',
      './usr/share/man/man1/fecflow.1.gz',
      './usr/share/doc/fecflow/copyright',
      './usr/share/doc/fecflow/changelog.Debian.gz',
      './usr/share/doc/fecflow/examples/headend.yaml',
      './usr/share/doc/fecflow/examples/lsr.yaml',
    ]) {
      expect(files, f).toContain(f);
    }
    // every production dependency is there (a native one with its compiled addon); no dev or
    // build-only one is
    for (const dep of Object.keys(pkg.dependencies)) {
      const there = files.has(`./usr/lib/fecflow/node_modules/${dep}/package.json`);
      expect(there, dep).toBe(!BUILD_ONLY.has(dep));
      if (there && existsSync(join(ROOT, 'node_modules', dep, 'binding.gyp'))) {
        expect([...files].some((f) => f.startsWith(`./usr/lib/fecflow/node_modules/${dep}/`) && f.endsWith('.node')), `${dep}'s addon`).toBe(true);
      }
    }
    for (const dev of ['vitest', 'typescript', '@types/node', 'node-gyp']) expect(files).not.toContain(`./usr/lib/fecflow/node_modules/${dev}/package.json`);

    const field = (f: string) => run('dpkg-deb', ['--field', deb, f]).out.trim();
    expect(field('Package')).toBe('fecflow');
    expect(field('Version')).toBe(VERSION);
    expect(field('Architecture')).toBe('amd64');
    const depends = field('Depends').split(/,\s*/);
    expect(depends).toContain('nodejs (>= 20)');
    expect(depends.some((d) => /^libbpf1\b/.test(d))).toBe(true);
    expect(depends.some((d) => /^libelf1\b/.test(d))).toBe(true);
  });

  it('has no lintian error or warning', () => {
    const r = run('lintian', ['--fail-on', 'error,warning', deb], { timeoutMs: 300_000 });
    const tags = r.out.split('\n').filter((l) => /^[EW]: /.test(l));
    expect(tags).toEqual([]);
    expect(r.code).toBe(0);
  }, 300_000);

  it('installs, and /usr/bin/fecflow runs from anywhere with nothing of the repository in reach', () => {
    const r = dpkg(['--install', deb]);
    weInstalled = true;
    expect(r.err.replace(/^.*Created symlink.*\n?/gm, '')).toBe('');
    expect(r.code).toBe(0);
    expect(installed()).toBe(true);
    // a bare environment in a directory with no node_modules above it
    expect(existsSync('/tmp/node_modules') || existsSync('/node_modules')).toBe(false);
    const env = { PATH: '/usr/bin:/bin', HOME: tmp, LANG: 'C.UTF-8' };
    const v = run('fecflow', ['--version'], { cwd: tmp, env });
    expect(v).toEqual({ code: 0, out: `${pkg.version}\n`, err: '' });
    const h = run('fecflow', ['--help'], { cwd: tmp, env });
    expect(h.code).toBe(0);
    for (const c of ['serve', 'reload', 'check', 'registry', 'detach', 'completion']) expect(h.out).toMatch(new RegExp(`^  ${c}\\b`, 'm'));
    // the man page and the completion are installed and work
    expect(run('man', ['-w', 'fecflow']).out.trim()).toBe('/usr/share/man/man1/fecflow.1.gz');
    const comp = run('bash', ['-c', 'source /usr/share/bash-completion/completions/fecflow; COMP_WORDS=(fecflow is); COMP_CWORD=1; _fecflow_complete; echo "${COMPREPLY[*]}"']);
    expect(comp.out).toBe('isp\n');
  });

  it('fecflow check -f, from the package, accepts every example router file', () => {
    const dir = '/usr/share/doc/fecflow/examples';
    for (const f of readdirSync(dir).filter((n) => n.endsWith('.yaml'))) {
      const r = run('fecflow', ['check', '-f', join(dir, f)], { cwd: tmp });
      expect(r.code, `${f}: ${r.out}${r.err}`).toBe(0);
    }
  });

  it('installs the unit enabled, idle until /etc/fecflow/router.yaml exists, and systemd-analyze verify passes', () => {
    const unit = readFileSync(UNIT, 'utf8');
    expect(unit).toMatch(/^ConditionPathExists=\/etc\/fecflow\/router\.yaml$/m);
    expect(unit).toMatch(/^ExecStart=\/usr\/bin\/fecflow serve -c \/etc\/fecflow\/router\.yaml /m);
    expect(lstatSync(WANTS).isSymbolicLink()).toBe(true);
    const which = run('sh', ['-c', 'command -v systemd-analyze']);
    if (which.code !== 0) {
      // apt's systemd provides it (scripts/system-deps.sh installs it); never a silent pass in CI
      expect(inCi, 'systemd-analyze is missing (apt: systemd)').toBe(false);
      console.warn('systemd-analyze is not installed: the unit was not verified');
      return;
    }
    const r = run('systemd-analyze', ['verify', UNIT]);
    expect(r.err.split('\n').filter((l) => l.includes('fecflow'))).toEqual([]);
    expect(r.code).toBe(0);
  });

  it('upgrade and remove keep forwarding and the state; purge detaches and deletes pins and state', async () => {
    // the installed daemon, as the unit runs it, on two interfaces of a namespace
    const ns = lab.netns('ffdeb');
    const [a, b] = lab.veth(ns, ns);
    const node = uniqueName('deb');
    const cfg = join(tmp, 'router.yaml');
    writeFileSync(
      cfg,
      `node: ${node}
interfaces:
  - { name: core0, device: ${a}, role: core, neighbours: { peer: "02:00:00:00:20:01" } }
  - { name: core1, device: ${b}, role: core, neighbours: { peer: "02:00:00:00:20:02" } }
isps:
  - { id: 1, name: alpha }
ilm:
  - { label: 1001, action: swap, labels: [2001], nexthop: { interface: core1, neighbour: peer } }
`,
    );
    let logs = '';
    const p = spawn('nsenter', [`--net=/run/netns/${ns}`, '/usr/bin/fecflow', 'serve', '-c', cfg, '--listen', `unix:${join(tmp, 'api.sock')}`], { cwd: tmp, stdio: ['ignore', 'pipe', 'pipe'] });
    daemon = p;
    p.stdout!.on('data', (c) => (logs += c));
    p.stderr!.on('data', (c) => (logs += c));
    const nodeDir = join(PIN_ROOT, node);
    await waitFor('the daemon to attach and listen', () => logs.includes('API listening') || p.exitCode !== null, 30_000, () => logs);
    expect(p.exitCode, logs).toBe(null);
    expect(readdirSync(join(nodeDir, 'links')).sort()).toEqual([a, b].sort());
    const prog = xdpProgId(ns, a);
    expect(prog).toBeGreaterThan(0);
    expect(xdpProgId(ns, b)).toBe(prog);
    expect(existsSync(join(STATE, 'token'))).toBe(true);
    const maps = readdirSync(join(nodeDir, 'maps')).length;
    expect(maps).toBeGreaterThan(10);

    // an upgrade (here to the same version: prerm upgrade, unpack, postinst configure <old>)
    // while the daemon runs leaves forwarding as it was
    const upgraded = dpkg(['--install', deb]);
    expect(upgraded.code, upgraded.err).toBe(0);
    expect(xdpProgId(ns, a)).toBe(prog);
    expect(readdirSync(join(nodeDir, 'maps')).length).toBe(maps);

    // stop the daemon (what prerm does through systemd), then remove the package
    p.kill('SIGTERM');
    await waitFor('the daemon to exit', () => p.exitCode !== null || p.signalCode !== null, 15_000, () => logs);
    const removed = dpkg(['--remove', 'fecflow']);
    expect(removed.code, removed.err).toBe(0);
    expect(existsSync('/usr/bin/fecflow')).toBe(false);
    expect(existsSync(UNIT)).toBe(false);
    expect(xdpProgId(ns, a)).toBe(prog);
    expect(xdpProgId(ns, b)).toBe(prog);
    expect(readdirSync(join(nodeDir, 'links')).sort()).toEqual([a, b].sort());
    expect(readdirSync(join(nodeDir, 'maps')).length).toBe(maps);
    expect(existsSync(join(STATE, 'token'))).toBe(true);

    // what an upgrade across a layout change stages (left behind by a crash) and the counters
    // it carries go too
    for (const [dir, map] of [['maps_next', 'ilm'], ['carried', 'label_stats']] as const) {
      mkdirSync(join(nodeDir, dir));
      const m = BpfMap.fromPin(join(nodeDir, 'maps', map));
      m.pin(join(nodeDir, dir, map));
      m.close();
    }

    const purged = dpkg(['--purge', 'fecflow']);
    expect(purged.code, purged.err).toBe(0);
    weInstalled = false;
    expect(xdpProgId(ns, a)).toBe(undefined);
    expect(xdpProgId(ns, b)).toBe(undefined);
    expect(existsSync(PIN_ROOT)).toBe(false);
    expect(existsSync(STATE)).toBe(false);
    expect(existsSync(WANTS) || existsSync('/etc/systemd/system/fecflow.service')).toBe(false);
    expect(run('dpkg-query', ['-W', 'fecflow']).code).not.toBe(0);
  });
});
