#!/usr/bin/env node
// Generates control/tables/shared.gen.ts from dataplane/fecflow_shared.h: every object-like
// #define with an integer value (literals, earlier names, + - * << | and parentheses) and every
// enum, so the TypeScript side never keeps a hand-made copy of a table size, a limit or a drop
// reason. Generic on purpose: a new #define or enum member in the header needs no change here,
// only a re-run (the Makefile of dataplane/ runs it; test/tables/shared-gen.test.ts fails when
// the committed file is stale).
//
//   node scripts/gen-shared.mjs           write the file if its content changed
//   node scripts/gen-shared.mjs --check   exit 1 if the file is stale
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const HEADER = join(ROOT, 'dataplane', 'fecflow_shared.h');
export const OUTPUT = join(ROOT, 'control', 'tables', 'shared.gen.ts');

function stripComments(text) {
  return text.replace(/\/\*[\s\S]*?\*\//g, (c) => c.replace(/[^\n]/g, ' ')).replace(/\/\/[^\n]*/g, '');
}

/** Evaluates a C integer constant expression over known names; undefined if it is not one. */
export function evalExpr(expr, known) {
  const tokens = expr.match(/0[xX][0-9a-fA-F]+[uUlL]*|\d+[uUlL]*|[A-Za-z_]\w*|<<|>>|[-+*/%|&()~]|\S/g) ?? [];
  let js = '';
  for (const t of tokens) {
    if (/^(0[xX][0-9a-fA-F]+|\d+)[uUlL]*$/.test(t)) js += ` ${Number(t.replace(/[uUlL]+$/, ''))}`;
    else if (/^[A-Za-z_]\w*$/.test(t)) {
      if (!known.has(t)) return undefined;
      js += ` ${known.get(t)}`;
    } else if (['<<', '>>', '+', '-', '*', '/', '%', '|', '&', '(', ')', '~'].includes(t)) js += ` ${t}`;
    else return undefined;
  }
  if (js.trim() === '') return undefined;
  // Only numbers and operators are left (checked token by token above).
  const v = Function(`"use strict"; return (${js});`)();
  // A division with a remainder (C truncates) or an overflow is no constant we can mirror.
  return Number.isSafeInteger(v) ? v : undefined;
}

/**
 * The constants of a header: { defines: [[name, value]], enums: [{ name, members: [[name, value]] }] },
 * in the header's order.
 */
export function parseHeader(text) {
  const src = stripComments(text);
  const known = new Map();
  const defines = [];
  const enums = [];
  // #defines and enums in one pass, in order, so an enum may use a define and the other way round.
  const re = /^[ \t]*#[ \t]*define[ \t]+([A-Za-z_]\w*)(\()?[ \t]*([^\n]*)$|\benum[ \t\n]+([A-Za-z_]\w*)[ \t\n]*\{([^}]*)\}/gm;
  for (const m of src.matchAll(re)) {
    if (m[1] !== undefined) {
      if (m[2] !== undefined) continue; // function-like macro
      const v = evalExpr(m[3].trim(), known);
      if (v === undefined) continue; // header guards, non-integer macros
      known.set(m[1], v);
      defines.push([m[1], v]);
      continue;
    }
    const members = [];
    let next = 0;
    for (const part of m[5].split(',')) {
      const item = part.trim();
      if (!item) continue;
      const e = /^([A-Za-z_]\w*)\s*(?:=\s*([\s\S]+))?$/.exec(item);
      if (!e) throw new Error(`enum ${m[4]}: cannot read member '${item}'`);
      const v = e[2] === undefined ? next : evalExpr(e[2], known);
      if (v === undefined) throw new Error(`enum ${m[4]}: cannot evaluate ${e[1]} = ${e[2]}`);
      known.set(e[1], v);
      members.push([e[1], v]);
      next = v + 1;
    }
    enums.push({ name: m[4], members });
  }
  return { defines, enums };
}

function commonPrefix(names) {
  if (names.length === 0) return '';
  let p = names[0];
  for (const n of names) while (!n.startsWith(p)) p = p.slice(0, -1);
  // whole words only: FF_DROP_NO_FEC and FF_DROP_NO_ROUTE share FF_DROP_, not FF_DROP_NO_
  return p.slice(0, p.lastIndexOf('_') + 1);
}

/** The TypeScript module for a parsed header. */
export function render(parsed, source = 'dataplane/fecflow_shared.h') {
  const names = new Set();
  const claim = (n) => {
    if (names.has(n)) throw new Error(`${source}: the name ${n} would be exported twice`);
    names.add(n);
  };
  for (const [n] of parsed.defines) claim(n);
  for (const e of parsed.enums) {
    for (const [n] of e.members) claim(n);
    claim(e.name.toUpperCase());
    claim(`${e.name.toUpperCase()}_NAMES`);
  }
  const out = [];
  out.push(`// GENERATED from ${source} by scripts/gen-shared.mjs — do not edit; run`);
  out.push('// `node scripts/gen-shared.mjs` (or `make -C dataplane`) after changing the header.');
  out.push('// Every integer #define and enum member, by its C name; and for each enum the names of its');
  out.push("// members without their common prefix, lowercase ('FF_DROP_NO_FEC' → 'no_fec'), by value.");
  out.push('');
  for (const [name, v] of parsed.defines) out.push(`export const ${name} = ${v};`);
  for (const e of parsed.enums) {
    out.push('');
    out.push(`// enum ${e.name}`);
    for (const [name, v] of e.members) out.push(`export const ${name} = ${v};`);
    // The *_MAX sentinel counts the members; it is not one of them.
    const real = e.members.filter(([n]) => !/_MAX$/.test(n));
    const prefix = commonPrefix(real.map(([n]) => n));
    const upper = e.name.toUpperCase();
    out.push(`/** enum ${e.name}: member name (lowercase, without '${prefix}') → value */`);
    out.push(`export const ${upper} = {`);
    for (const [n, v] of real) out.push(`  '${n.slice(prefix.length).toLowerCase()}': ${v},`);
    out.push('} as const;');
    const values = real.map(([, v]) => v);
    const dense = values.every((v, i) => v === i);
    if (dense) {
      out.push(`/** enum ${e.name}: the member names, indexed by value */`);
      out.push(`export const ${upper}_NAMES = [${real.map(([n]) => `'${n.slice(prefix.length).toLowerCase()}'`).join(', ')}] as const;`);
    }
  }
  out.push('');
  return out.join('\n');
}

export function generate(headerText) {
  return render(parseHeader(headerText));
}

function main() {
  const want = generate(readFileSync(HEADER, 'utf8'));
  let have = '';
  try {
    have = readFileSync(OUTPUT, 'utf8');
  } catch {
    // missing: written below
  }
  if (process.argv.includes('--check')) {
    if (have !== want) {
      process.stderr.write(`${OUTPUT} is stale: run node scripts/gen-shared.mjs\n`);
      process.exit(1);
    }
    return;
  }
  // Written only when changed, so tsc and make see no new mtime on a no-op run.
  if (have !== want) writeFileSync(OUTPUT, want);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) main();
