// Rates and sizes as an operator writes them ('100Mbit', '256KB'). Rates use the SI bit units
// of tc (kbit = 1000 bit); sizes use the binary byte units of tc (KB = 1024 B). Parsing is exact
// (decimal digits, BigInt), so '1.5Gbit' is exactly 1 500 000 000 bit/s.

import type { Parsed } from './addr.js';

// Maps, not object literals: a unit is the operator's text, and '5constructor' must be a
// malformed rate, not a lookup of Object.prototype.constructor.
const RATE_UNITS = new Map<string, bigint>([
  ['bit', 1n],
  ['kbit', 1_000n],
  ['mbit', 1_000_000n],
  ['gbit', 1_000_000_000n],
  ['tbit', 1_000_000_000_000n],
]);

const SIZE_UNITS = new Map<string, bigint>([
  ['b', 1n],
  ['kb', 1024n],
  ['kib', 1024n],
  ['mb', 1024n * 1024n],
  ['mib', 1024n * 1024n],
  ['gb', 1024n * 1024n * 1024n],
  ['gib', 1024n * 1024n * 1024n],
]);

const QUANTITY_RE = /^\s*(\d+)(?:\.(\d+))?\s*([a-zA-Z]+)\s*$/;

function scaled(intPart: string, frac: string | undefined, mult: bigint): bigint | undefined {
  const f = frac ?? '';
  const scale = 10n ** BigInt(f.length);
  const n = BigInt(intPart + f) * mult;
  return n % scale === 0n ? n / scale : undefined;
}

/** '100Mbit' → 100000000 (bit/s). A bare number is bit/s. Units: bit, kbit, Mbit, Gbit, Tbit. */
export function parseRate(input: string | number): Parsed<number> {
  if (typeof input === 'number') {
    if (!Number.isSafeInteger(input) || input < 0) return { ok: false, reason: `rate ${input} must be a whole number of bit/s` };
    return { ok: true, value: input };
  }
  const m = QUANTITY_RE.exec(input);
  const unit = m ? RATE_UNITS.get(m[3]!.toLowerCase()) : undefined;
  if (!m || unit === undefined) {
    return { ok: false, reason: `malformed rate '${input}' (expected a number and one of bit, kbit, Mbit, Gbit, Tbit, e.g. 100Mbit)` };
  }
  const bits = scaled(m[1]!, m[2], unit);
  if (bits === undefined) return { ok: false, reason: `rate '${input}' is not a whole number of bit/s` };
  if (bits > BigInt(Number.MAX_SAFE_INTEGER)) return { ok: false, reason: `rate '${input}' is too large` };
  return { ok: true, value: Number(bits) };
}

/** '256KB' → 262144 (bytes). A bare number is bytes. Units: B, KB (1024), MB, GB. */
export function parseSize(input: string | number): Parsed<number> {
  if (typeof input === 'number') {
    if (!Number.isSafeInteger(input) || input < 0) return { ok: false, reason: `size ${input} must be a whole number of bytes` };
    return { ok: true, value: input };
  }
  const m = QUANTITY_RE.exec(input);
  const unit = m ? SIZE_UNITS.get(m[3]!.toLowerCase()) : undefined;
  if (!m || unit === undefined) {
    return { ok: false, reason: `malformed size '${input}' (expected a number and one of B, KB, MB, GB, e.g. 256KB)` };
  }
  const bytes = scaled(m[1]!, m[2], unit);
  if (bytes === undefined) return { ok: false, reason: `size '${input}' is not a whole number of bytes` };
  if (bytes > BigInt(Number.MAX_SAFE_INTEGER)) return { ok: false, reason: `size '${input}' is too large` };
  return { ok: true, value: Number(bytes) };
}
