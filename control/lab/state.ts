// The state file of a running lab, /run/fecflow-lab/<name>/state.json: what `down` must undo
// and where everything is. It is written before anything is created and updated as daemons
// start, so a lab that crashed half way up is still torn down completely.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RouterName } from './topology.js';

export interface ProcessRecord {
  pid: number;
  /** /proc/<pid>/stat start time: a PID is only signalled while it still names our process */
  startTime: number;
}

export interface DaemonRecord extends ProcessRecord {
  router: RouterName;
  namespace: string;
  config: string;
  socket: string;
  /** http://169.254.x.y:9180 — reachable from the host through the management veth */
  url: string;
  tokenFile: string;
  log: string;
}

export interface LabState {
  version: 1;
  name: string;
  createdAt: string;
  /** management address slot (169.254.<100+slot>.0/24) */
  slot: number;
  namespaces: string[];
  hostLinks: string[];
  pinDir: string;
  stateDir: string;
  daemons: Partial<Record<RouterName, DaemonRecord>>;
  /** the label plan generation the routers run */
  generation: number;
  /** the MTU of the tailend's ISP links, when not the default */
  ispMtu?: number;
  /** labels learned by LDP (`lab up --ldp`), with FRR beside the lsr */
  ldp?: boolean;
}

export const stateFile = (stateDir: string): string => join(stateDir, 'state.json');

export function readState(stateDir: string): LabState | undefined {
  try {
    return JSON.parse(readFileSync(stateFile(stateDir), 'utf8')) as LabState;
  } catch {
    return undefined;
  }
}

/** Written atomically (temp file + rename): a crash never leaves half a state file. */
export function writeState(s: LabState): void {
  mkdirSync(s.stateDir, { recursive: true, mode: 0o700 });
  const tmp = `${stateFile(s.stateDir)}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(s, null, 2)}\n`, { mode: 0o600 });
  renameSync(tmp, stateFile(s.stateDir));
}
