// Without --fleet nothing of NATS is loaded: only the fleet's own modules import the client, and
// `serve` and the CLI reach them through dynamic import() alone.
import { describe, expect, test } from 'vitest';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

const STATIC_IMPORT = /^\s*import\s+(?!type\b)[^;]*?from\s+'([^']+)'/gm;

describe('the NATS client is loaded only for the fleet', () => {
  const all = files('control');
  const staticImports = (f: string) => [...readFileSync(f, 'utf8').matchAll(STATIC_IMPORT)].map((m) => m[1]!);

  test('only control/fleet/{nats,agent,controller,run}.ts import @nats-io at all', () => {
    const users = all.filter((f) => /from '@nats-io\//.test(readFileSync(f, 'utf8'))).sort();
    expect(users).toEqual(['control/fleet/agent.ts', 'control/fleet/controller.ts', 'control/fleet/nats.ts'].sort());
    // the two with values from it import only types besides nats.ts
    for (const f of ['control/fleet/agent.ts', 'control/fleet/controller.ts']) expect(staticImports(f).filter((m) => m.startsWith('@nats-io/'))).toEqual([]);
  });

  test('nothing outside the fleet imports a fleet module that loads NATS, except by import()', () => {
    const loaders = new Set(['../fleet/agent.js', '../fleet/controller.js', '../fleet/nats.js', '../fleet/run.js', '../../fleet/run.js', '../../fleet/agent.js']);
    for (const f of all.filter((f) => !f.startsWith('control/fleet/'))) {
      expect(staticImports(f).filter((m) => loaders.has(m)), f).toEqual([]);
    }
    expect(readFileSync('control/serve/serve.ts', 'utf8')).toMatch(/await import\('\.\.\/fleet\/agent\.js'\)/);
    // the controller's own modules reach NATS only through nats.js, which run.ts loads via controller.ts
    expect(staticImports('control/fleet/run.ts')).toContain('./controller.js');
    expect(readFileSync('control/cli/commands/controller.ts', 'utf8')).toMatch(/await import\('\.\.\/\.\.\/fleet\/run\.js'\)/);
  });
});
