// Differential test: at least 100,000 seeded random and mutated frames through the reference
// model (test/model) and through the real XDP programs (BPF_PROG_TEST_RUN), requiring the same
// verdict, the same output bytes for pass and redirect, and the same counter increments.
//
//   FECFLOW_DIFF_SEED=n     base seed (default below); every table set and frame derives from it
//   FECFLOW_DIFF_FRAMES=n   number of frames (default 100000)
//   FECFLOW_DIFF_INDEX=i    replay frame i only, printing it in full
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { describeRoot } from '../helpers/root.js';
import { describeMismatch, runDifferential, summarize } from './runner.js';

const env = (name: string): number | undefined => {
  const v = process.env[name];
  return v === undefined || v === '' ? undefined : Number(v);
};

const SEED = env('FECFLOW_DIFF_SEED') ?? 0xfecf10;
const FRAMES = env('FECFLOW_DIFF_FRAMES') ?? 100_000;
const ONLY = env('FECFLOW_DIFF_INDEX');

describeRoot('differential: reference model vs. XDP programs', () => {
  it(ONLY === undefined ? `agrees on ${FRAMES} seeded frames (seed ${SEED})` : `agrees on frame ${ONLY} (seed ${SEED})`, () => {
    rmSync('test-results/differential.txt', { force: true });
    const report = runDifferential({ seed: SEED, frames: FRAMES, framesPerTables: 5_000, window: 1_000, only: ONLY });
    const coverage = [...report.coverage].sort().map(([k, n]) => `  ${k.padEnd(34)} ${n}`).join('\n');
    console.log(`differential: ${report.frames} frames, ${report.tableSets} table sets, ${(report.elapsedMs / 1000).toFixed(1)} s\nmodel outcomes:\n${coverage}`);
    if (ONLY !== undefined) for (const m of report.mismatches) console.log(describeMismatch(m, SEED));
    if (report.mismatches.length > 0 || report.windowFailures.length > 0) {
      const summary = summarize(report, SEED);
      mkdirSync('test-results', { recursive: true });
      writeFileSync('test-results/differential.txt', `${summary}\n\nall mismatches:\n${report.mismatches.map((m) => describeMismatch(m, SEED)).join('\n\n')}\n`);
      console.log(summary);
    }
    expect(report.frames).toBe(ONLY === undefined ? FRAMES : 1);
    if (ONLY === undefined) {
      // the per-subscriber meters were exercised in both directions
      expect([...report.coverage.keys()].some((k) => k.startsWith('meter up'))).toBe(true);
      expect([...report.coverage.keys()].some((k) => k.startsWith('meter down'))).toBe(true);
    }
    expect(report.windowFailures).toEqual([]);
    expect(report.mismatches.length, 'frames where the model and the XDP programs differ (see test-results/differential.txt)').toBe(0);
  }, 1_800_000);
});
