// The like-for-like baseline of the end-to-end benchmark: what an operator would build on a plain
// Linux headend without fecflow. An nftables map of the same subscriber source addresses sets a
// mark per ISP in prerouting, one `ip rule fwmark` per ISP selects that ISP's routing table, and
// each table routes the traffic on. The map and the tables are loaded once (the map takes
// seconds at a million entries); the prerouting chain and the rules, which would otherwise slow
// the plain kernel mode too (every packet walks the rule list), are put in for the runs of this
// mode only and taken out again. While they are in, the main table's route to the ISP is taken
// out too, so a frame reaches the ISP only if the map marked it and its ISP's table routed it.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inNetns, sh } from '../../test/helpers/netns.js';

export interface NftBaseline {
  /** seconds to load the map of every subscriber (nft -f) */
  mapLoadSeconds: number;
  /** seconds to add the per-ISP routing tables (ip -batch) */
  tablesLoadSeconds: number;
  /** puts the marking chain and the fwmark rules in */
  enable(): void;
  /** takes them out; never throws */
  disable(): void;
}

const TABLE = 'ffbench';
/** routing table and rule preference of ISP k: BASE + k */
const TABLE_BASE = 10000;
const PREF_BASE = 1000;

export interface NftBaselineOptions {
  /** the headend's namespace */
  ns: string;
  /** subscriber i's source address */
  source: (i: number) => string;
  subscribers: number;
  /** subscriber i's ISP (1..isps) */
  ispOf: (i: number) => number;
  isps: number;
  /** the route every ISP's table holds */
  route: { prefix: string; via: string; dev: string };
}

function runFile(ns: string, cmd: string, args: string[], text: string): void {
  const dir = mkdtempSync(join(tmpdir(), 'ffbench-nft-'));
  try {
    const file = join(dir, 'input');
    writeFileSync(file, text);
    inNetns(ns, cmd, [...args, file], { timeoutMs: 600_000 });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function nftBaseline(o: NftBaselineOptions): NftBaseline {
  let t0 = performance.now();
  const elements: string[] = [];
  for (let i = 0; i < o.subscribers; i++) elements.push(`${o.source(i)} : ${o.ispOf(i)}`);
  runFile(o.ns, 'nft', ['-f'], `table ip ${TABLE} {\n  map sub {\n    type ipv4_addr : mark\n    size ${Math.max(1024, o.subscribers)}\n    elements = {\n${elements.join(',\n')}\n    }\n  }\n}\n`);
  const mapLoadSeconds = (performance.now() - t0) / 1000;

  t0 = performance.now();
  const routes: string[] = [];
  for (let k = 1; k <= o.isps; k++) routes.push(`route add ${o.route.prefix} via ${o.route.via} dev ${o.route.dev} table ${TABLE_BASE + k}`);
  runFile(o.ns, 'ip', ['-batch'], routes.join('\n') + '\n');
  const tablesLoadSeconds = (performance.now() - t0) / 1000;

  const rules = (verb: 'add' | 'del') =>
    Array.from({ length: o.isps }, (_, j) => `rule ${verb} pref ${PREF_BASE + j + 1} fwmark ${j + 1} table ${TABLE_BASE + j + 1}`).join('\n') + '\n';
  const mainRoute = ['route', 'replace', o.route.prefix, 'via', o.route.via, 'dev', o.route.dev];
  const disable = () => {
    try {
      sh('ip', ['-n', o.ns, ...mainRoute]);
    } catch {
      // the namespace is gone
    }
    try {
      inNetns(o.ns, 'nft', ['delete', 'chain', 'ip', TABLE, 'pre']);
    } catch {
      // not there
    }
    try {
      runFile(o.ns, 'ip', ['-force', '-batch'], rules('del'));
    } catch {
      // not there
    }
  };
  return {
    mapLoadSeconds,
    tablesLoadSeconds,
    enable() {
      runFile(o.ns, 'nft', ['-f'], `table ip ${TABLE} {\n  chain pre {\n    type filter hook prerouting priority mangle; policy accept;\n    meta mark set ip saddr map @sub\n  }\n}\n`);
      runFile(o.ns, 'ip', ['-batch'], rules('add'));
      sh('ip', ['-n', o.ns, 'route', 'del', o.route.prefix]);
    },
    disable,
  };
}
