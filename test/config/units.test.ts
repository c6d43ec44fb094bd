// Rates and sizes as operators write them: exact conversion, clear refusals.
import { describe, expect, test } from 'vitest';
import { parseRate, parseSize } from '../../control/config/units.js';

describe('parseRate (bit/s, SI units)', () => {
  test.each([
    ['100Mbit', 100_000_000],
    ['1.5Gbit', 1_500_000_000],
    ['64kbit', 64_000],
    ['8bit', 8],
    ['10 mbit', 10_000_000],
    ['2Tbit', 2_000_000_000_000],
    [25_000_000, 25_000_000],
  ])('%s is %d bit/s', (input, bits) => {
    expect(parseRate(input)).toEqual({ ok: true, value: bits });
  });

  test.each(['100', '100MB', '100Mbps', 'fast', '1.0001bit', '-5Mbit'])('refuses %s', (input) => {
    expect(parseRate(input).ok).toBe(false);
  });
});

describe('parseSize (bytes, binary units)', () => {
  test.each([
    ['256KB', 262_144],
    ['1MB', 1_048_576],
    ['1500B', 1500],
    ['1.5KB', 1536],
    ['2GB', 2 * 1024 ** 3],
    [9000, 9000],
  ])('%s is %d bytes', (input, bytes) => {
    expect(parseSize(input)).toEqual({ ok: true, value: bytes });
  });

  test.each(['256', '256Kbit', '0.3B', 'lots'])('refuses %s', (input) => {
    expect(parseSize(input).ok).toBe(false);
  });
});
