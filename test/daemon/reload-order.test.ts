// Reloads of the router file apply it in the order they were asked for, each reading the file
// when its turn comes: a burst of writes, each followed by a reload (an operator's script, or
// the file watcher firing beside an API call), ends with the last version running, never an
// older one whose read happened to finish later.
import { renameSync, writeFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { fecCodec } from '../../control/tables/layout.js';
import { CONFIG, startHarness, type Harness } from '../api/fakes.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

/** The harness's config with alpha's upstream label set to `label`, padded so that reading it
 * takes several reads (reads in flight together then finish in any order). */
function version(label: number): string {
  const pad = `# ${'x'.repeat(1000)}\n`.repeat(2000);
  return CONFIG.replace('labels: [100]', `labels: [${label}]`) + pad;
}

function alphaLabel(h: Harness): number {
  const raw = h.daemon.runningRaw as { isps: Array<{ name: string; upstream: { labels: number[] } }> };
  return raw.isps.find((i) => i.name === 'alpha')!.upstream.labels[0]!;
}

describe('reload ordering', () => {
  it('a burst of file writes, each with its reload, ends with the last version applied', async () => {
    h = await startHarness();
    const path = h.configPath;
    for (let round = 0; round < 3; round++) {
      const pending: Array<Promise<unknown>> = [];
      let last = 0;
      for (let i = 1; i <= 25; i++) {
        last = 1000 + round * 100 + i;
        writeFileSync(`${path}.tmp`, version(last));
        renameSync(`${path}.tmp`, path);
        pending.push(h.daemon.reload(i % 2 ? 'watch' : 'api:reload'));
      }
      await Promise.all(pending);
      expect(alphaLabel(h), `round ${round}`).toBe(last);
      // and the map the FEC lives in holds that label
      const fec = h.maps.get('fec_up')!;
      const pushed = [...fec.data.values()].filter((v) => v.some((b) => b !== 0)).map((v) => fecCodec.decode(v).label[0]);
      expect(pushed).toContain(last);
      expect(pushed.filter((l) => l !== 200), 'no older label of alpha is pushed').toEqual([last]);
    }
  });
});
