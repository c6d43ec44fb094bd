// The constants shared with the C side come from dataplane/fecflow_shared.h through
// scripts/gen-shared.mjs: the committed control/tables/shared.gen.ts must be what the generator
// makes of the header today, the generator must follow header changes without being edited,
// and the isp_stats / policer index functions must follow the header's formula.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { evalExpr, generate, HEADER, OUTPUT, parseHeader } from '../../scripts/gen-shared.mjs';
import * as gen from '../../control/tables/shared.gen.js';
import { DROP_REASONS, ispStatsIndex, ispStatsSlot, MAX_ISPS, policerIndex } from '../../control/tables/types.js';

describe('shared.gen.ts', () => {
  it('is what scripts/gen-shared.mjs makes of fecflow_shared.h (run it after changing the header)', () => {
    expect(readFileSync(OUTPUT, 'utf8')).toBe(generate(readFileSync(HEADER, 'utf8')));
  });

  it('holds the table sizes and limits of the header', () => {
    expect(gen.FF_MAX_ISPS).toBe(4096);
    expect(gen.FF_ILM_ENTRIES).toBe(1048576);
    expect(gen.FF_ISP_STATS_ENTRIES).toBe(gen.FF_MAX_ISPS * gen.FF_DIR_MAX * gen.FF_POINT_MAX);
    expect(gen.FF_SKIP_SUB_VLAN).toBe(2);
    expect(MAX_ISPS).toBe(gen.FF_MAX_ISPS);
  });

  it('names the drop reasons in the order of enum ff_drop_reason', () => {
    expect(DROP_REASONS.length).toBe(gen.FF_DROP_MAX);
    expect(DROP_REASONS[gen.FF_DROP_NO_FEC]).toBe('no_fec');
    expect(DROP_REASONS[gen.FF_DROP_TX_PORT]).toBe('tx_port');
    expect(DROP_REASONS[0]).toBe('unknown_subscriber');
  });
});

describe('gen-shared.mjs', () => {
  const header = `
#ifndef X_H
#define X_H
#include <linux/types.h>
#define A_SIZE     1024      /* a comment with , and } in it */
#define B_SIZE     (A_SIZE * 2 + 1)
#define C_BIT      (1u << 3)
#define D_HEX      0x10
#define F(t)       (1u << (t))
#define NOT_INT    "text"
#define UNKNOWN    (A_SIZE * NOPE)
// enum not_this { X = 1 };
enum ff_colour {
	FF_COLOUR_RED = 0,
	FF_COLOUR_GREEN,   /* implicit: 1 */
	FF_COLOUR_DARK_BLUE = A_SIZE / 512,
	FF_COLOUR_MAX,
};
enum ff_sparse { FF_SP_ONE = 1, FF_SP_FIVE = 5 };
#endif
`;

  it('reads integer #defines (expressions over earlier names) and skips the rest', () => {
    const p = parseHeader(header);
    expect(p.defines).toEqual([
      ['A_SIZE', 1024],
      ['B_SIZE', 2049],
      ['C_BIT', 8],
      ['D_HEX', 16],
    ]);
  });

  it('reads enums with explicit, implicit and computed values, ignoring commented-out code', () => {
    const p = parseHeader(header);
    expect(p.enums).toEqual([
      { name: 'ff_colour', members: [['FF_COLOUR_RED', 0], ['FF_COLOUR_GREEN', 1], ['FF_COLOUR_DARK_BLUE', 2], ['FF_COLOUR_MAX', 3]] },
      { name: 'ff_sparse', members: [['FF_SP_ONE', 1], ['FF_SP_FIVE', 5]] },
    ]);
  });

  it('renders every constant, a name map per enum and a names list for dense enums only', () => {
    const ts = generate(header);
    expect(ts).toContain('export const B_SIZE = 2049;');
    expect(ts).toContain('export const FF_COLOUR_MAX = 3;');
    expect(ts).toContain("export const FF_COLOUR_NAMES = ['red', 'green', 'dark_blue'] as const;");
    expect(ts).toContain("  'five': 5,");
    expect(ts).not.toContain('FF_SPARSE_NAMES');
    expect(ts).not.toContain('NOT_INT');
  });

  it('follows a drop reason added to the header with no change to the generator', () => {
    const h = readFileSync(HEADER, 'utf8');
    const added = h.replace(/(\tFF_DROP_MAX = )(\d+),/, (_m, a: string, n: string) => `\tFF_DROP_NEW_THING = ${n},\n${a}${Number(n) + 1},`);
    expect(added).not.toBe(h);
    const ts = generate(added);
    expect(ts).toMatch(/export const FF_DROP_REASON_NAMES = \[.*'sub_policed', 'new_thing'\] as const;/);
    expect(ts).toContain(`export const FF_DROP_MAX = ${gen.FF_DROP_MAX + 1};`);
  });

  it('refuses a header whose names would collide in the output', () => {
    expect(() => generate('#define FF_X_NAMES 1\nenum ff_x { FF_X_A = 0 };\n')).toThrow(/exported twice/);
  });

  it('evaluates only integer constant expressions', () => {
    const known = new Map([['N', 6]]);
    expect(evalExpr('(N << 2) | 1', known)).toBe(25);
    expect(evalExpr('N / 4', known)).toBeUndefined(); // C would truncate; not mirrored
    expect(evalExpr('N + M', known)).toBeUndefined();
    expect(evalExpr('process.exit(1)', known)).toBeUndefined();
    expect(evalExpr('', known)).toBeUndefined();
  });
});

describe('isp_stats and policer indexes', () => {
  it('follow (isp * FF_DIR_MAX + direction) * FF_POINT_MAX + point', () => {
    expect(policerIndex(7, 'up')).toBe(14);
    expect(policerIndex(7, 'down')).toBe(15);
    expect(ispStatsIndex(7, 'down', 'policed')).toBe((7 * 2 + 1) * 4 + 2);
    expect(ispStatsIndex(gen.FF_MAX_ISPS - 1, 'down', 'transit')).toBe(gen.FF_ISP_STATS_ENTRIES - 1);
  });

  it('ispStatsSlot inverts ispStatsIndex over the whole map', () => {
    const wrong: number[] = [];
    for (let i = 0; i < gen.FF_ISP_STATS_ENTRIES; i++) {
      const s = ispStatsSlot(i);
      if (ispStatsIndex(s.isp, s.direction, s.point) !== i) wrong.push(i);
    }
    expect(wrong).toEqual([]);
    expect(ispStatsSlot(gen.FF_ISP_STATS_ENTRIES - 1)).toEqual({ isp: gen.FF_MAX_ISPS - 1, direction: 'down', point: 'transit' });
  });
});
