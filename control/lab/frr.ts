// FRR as the lab's fourth router (`lab up --ldp`): zebra and ldpd in their own namespace, with
// their own pathspace (-N) so they never meet a system FRR, config and pid files in a folder the
// frr user can read. An LDP neighbour of the lsr that learns and advertises labels; the kernel
// here has no MPLS, so it forwards nothing. Stopped by the PIDs in its namespace: ldpd forks two
// children that are not in its pid file.
import { chmodSync, chownSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LabError, run, sleep, tryRun } from './sys.js';
import { LDP_PLAN } from './topology.js';

const FRR_BIN = '/usr/lib/frr';

export function frrInstalled(): boolean {
  return tryRun('sh', ['-c', `test -x ${FRR_BIN}/ldpd && test -x ${FRR_BIN}/zebra && command -v vtysh`]);
}

/** Writes zebra's and ldpd's config into dir and starts both inside ns; pathspace names the
 * vty sockets' folder (/run/frr/<pathspace>). */
export function startFrr(ns: string, dir: string, pathspace: string): void {
  if (!frrInstalled()) throw new LabError('lab up --ldp needs FRR (zebra, ldpd, vtysh): apt-get install frr');
  mkdirSync(dir, { recursive: true });
  const id = LDP_PLAN.lsrId.frr;
  writeFileSync(join(dir, 'zebra.conf'), 'hostname frr\n');
  writeFileSync(
    join(dir, 'ldpd.conf'),
    [
      'mpls ldp',
      ` router-id ${id}`,
      ` discovery hello holdtime ${LDP_PLAN.holdTime}`,
      ` discovery hello interval ${LDP_PLAN.helloInterval}`,
      ' address-family ipv4',
      `  discovery transport-address ${id}`,
      `  interface ${LDP_PLAN.frrLink.frr.ifname}`,
      '  exit',
      ' exit-address-family',
      'exit',
      '',
    ].join('\n'),
  );
  const uid = Number(run('id', ['-u', 'frr']).trim());
  const gid = Number(run('id', ['-g', 'frr']).trim());
  chmodSync(dir, 0o755);
  chownSync(dir, uid, gid);
  for (const f of ['zebra.conf', 'ldpd.conf']) chownSync(join(dir, f), uid, gid);
  for (const daemon of ['zebra', 'ldpd']) {
    run('ip', ['netns', 'exec', ns, `${FRR_BIN}/${daemon}`, '-d', '-N', pathspace, '-P', '0', '-f', join(dir, `${daemon}.conf`), '-i', join(dir, `${daemon}.pid`), '--log', `file:${join(dir, `${daemon}.log`)}`]);
  }
}

/** FRR's command line in the lab: `vtysh -c CMD` against its pathspace. */
export function frrVtysh(pathspace: string, ...cmds: string[]): string {
  return run('vtysh', ['--vty_socket', `/run/frr/${pathspace}`, ...cmds.flatMap((c) => ['-c', c])]);
}

/** Ends every process in FRR's namespace (TERM, then KILL), and its vty folder. Never throws. */
export async function stopFrr(ns: string, pathspace: string): Promise<number> {
  const pids = (): number[] => {
    try {
      return run('ip', ['netns', 'pids', ns]).split('\n').filter(Boolean).map(Number);
    } catch {
      return [];
    }
  };
  const first = pids();
  for (const pid of first) {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      /* gone */
    }
  }
  for (let i = 0; i < 20 && pids().length > 0; i++) await sleep(100);
  for (const pid of pids()) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  rmSync(`/run/frr/${pathspace}`, { recursive: true, force: true });
  return first.length;
}
