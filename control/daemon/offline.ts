// `fecflow detach --offline`: what `POST /v1/detach` does, for a node whose daemon is not
// running (it crashed, or was stopped and will not come back): detach the XDP links pinned
// under <pinRoot>/<node>/links, then remove the node's map and link pins. Forwarding on those
// interfaces stops.
import { existsSync, readdirSync, rmSync, rmdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { XdpLink } from '../bpf/index.js';

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
  const links = join(nodeDir, 'links');
  const maps = join(nodeDir, 'maps');
  if (!existsSync(nodeDir)) throw new Error(`${nodeDir} does not exist: nothing of this node is pinned (check --node and --pin-root)`);
  if (!statSync(nodeDir).isDirectory() || (!existsSync(links) && !existsSync(maps))) {
    throw new Error(`${nodeDir} is not a fecflow node's pin directory (it has neither links/ nor maps/); nothing was changed`);
  }
  const out: OfflineDetach = { detached: [], problems: [], maps: 0 };
  for (const name of existsSync(links) ? readdirSync(links).sort() : []) {
    const pin = join(links, name);
    try {
      const link = XdpLink.fromPin(pin);
      link.unpin();
      link.detach();
      out.detached.push(name);
    } catch (err) {
      out.problems.push({ pin, error: (err as Error).message });
    }
    rmSync(pin, { force: true });
  }
  for (const name of existsSync(maps) ? readdirSync(maps) : []) {
    rmSync(join(maps, name), { force: true });
    out.maps++;
  }
  for (const d of [links, maps, nodeDir]) {
    try {
      rmdirSync(d);
    } catch {
      /* gone, or holds something that is not ours */
    }
  }
  return out;
}
