// Puts the real parts together for `fecflow serve`: control/config validates, control/compile
// compiles against the host's interfaces, the reconcile adapter writes the BPF maps.
import { parse as parseYaml } from 'yaml';
import { checkConfig, type Config } from '../config/index.js';
import { compile, CompileError } from '../compile/index.js';
import type { Tables } from '../tables/types.js';
import { invalid } from './errors.js';
import type { HostEnv } from './netenv.js';
import type { ConfigPipeline, InterfaceRole } from './ports.js';
import type { MapIO } from './mapio.js';
import { planReconcile } from './reconcile-adapter.js';

export interface PipelineDeps {
  env: HostEnv;
  /** the config maps to reconcile, and label_stats (counters created with the ILM) */
  maps(): { config: MapIO[]; labelStats?: MapIO };
}

export function parseConfigText(text: string): unknown {
  if (text.trim() === '') throw new Error('the configuration is empty');
  if (text.trimStart().startsWith('{')) return JSON.parse(text);
  return parseYaml(text, { version: '1.2', uniqueKeys: true, maxAliasCount: 1000 });
}

export function configPipeline(deps: PipelineDeps): ConfigPipeline<Config> {
  return {
    parse: parseConfigText,
    validate(raw) {
      const r = checkConfig(raw);
      return r.config ? { ok: true, config: r.config } : { ok: false, issues: r.issues };
    },
    node: (c) => c.node,
    interfaces: (c) => c.interfaces.map((i): InterfaceRole => ({ ifname: i.device, role: i.role })),
    async compile(c): Promise<Tables> {
      deps.env.refresh();
      try {
        return compile(c, deps.env);
      } catch (err) {
        if (err instanceof CompileError) throw invalid('the config cannot be compiled on this host', err.problems.map((p) => ({ path: '', message: p })));
        throw err;
      }
    },
    async plan(desired) {
      const m = deps.maps();
      return planReconcile(desired, m.config, m.labelStats);
    },
  };
}
