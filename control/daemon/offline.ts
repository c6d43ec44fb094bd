// Taking a node's programs and pins away: `POST /v1/detach` (BpfDataplane.detach, with the
// daemon's own handles) and `fecflow detach --offline`, for a node whose daemon is not running
// (it crashed, or was stopped and will not come back). Forwarding on those interfaces stops.
import { existsSync, readdirSync, rmSync, rmdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { XdpLink } from '../bpf/index.js';
import { clearCarried, clearStaging } from './migrate.js';

/** A node's pins: <pinRoot>/<node>/maps/<map> and <pinRoot>/<node>/links/<interface>. */
export function nodePinDirs(nodeDir: string): { links: string; maps: string } {
  return { links: join(nodeDir, 'links'), maps: join(nodeDir, 'maps') };
}

/**
 * Detaches the XDP link pinned at `pin` (through `link` when the caller holds it) and removes
 * the pin, also when the link is gone or will not detach. Returns why it failed, if it did.
 */
export function detachLinkPin(pin: string, link?: XdpLink): string | undefined {
  let problem: string | undefined;
  try {
    const l = link ?? XdpLink.fromPin(pin);
    l.unpin();
    l.detach();
  } catch (err) {
    problem = (err as Error).message;
  }
  rmSync(pin, { force: true });
  return problem;
}

/** Removes the node's pin directories once empty (one holding someone else's pins stays). */
export function removeNodeDirs(nodeDir: string): void {
  const { links, maps } = nodePinDirs(nodeDir);
  for (const d of [links, maps, nodeDir]) {
    try {
      rmdirSync(d);
    } catch {
      /* not empty, or gone */
    }
  }
}

export interface OfflineDetach {
  /** interfaces whose program was detached (the link pin's name) */
  detached: string[];
  /** link pins that no longer held a live link, or failed to detach (removed all the same) */
  problems: Array<{ pin: string; error: string }>;
  /** map pins removed */
  maps: number;
}

/** Throws when nodeDir is not a fecflow node's pin directory (nothing is touched then). */
export function detachPinned(nodeDir: string): OfflineDetach {
  const { links, maps } = nodePinDirs(nodeDir);
  if (!existsSync(nodeDir)) throw new Error(`${nodeDir} does not exist: nothing of this node is pinned (check --node and --pin-root)`);
  if (!statSync(nodeDir).isDirectory() || (!existsSync(links) && !existsSync(maps))) {
    throw new Error(`${nodeDir} is not a fecflow node's pin directory (it has neither links/ nor maps/); nothing was changed`);
  }
  const out: OfflineDetach = { detached: [], problems: [], maps: 0 };
  for (const name of existsSync(links) ? readdirSync(links).sort() : []) {
    const pin = join(links, name);
    const problem = detachLinkPin(pin);
    if (problem === undefined) out.detached.push(name);
    else out.problems.push({ pin, error: problem });
  }
  for (const name of existsSync(maps) ? readdirSync(maps) : []) {
    rmSync(join(maps, name), { force: true });
    out.maps++;
  }
  clearStaging(nodeDir); // what an interrupted upgrade across a layout change staged
  clearCarried(nodeDir); // counters kept from before a layout change
  removeNodeDirs(nodeDir);
  return out;
}
