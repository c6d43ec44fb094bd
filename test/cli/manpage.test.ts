// fecflow(1) generated from the CLI's help: every command and option is on the page, text is
// escaped so help strings can never become troff requests, and man(1) renders it without warnings.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../../control/cli/main.js';
import { manPage, troffText } from '../../control/cli/manpage.js';
import type { CliContext } from '../../control/cli/context.js';

const ctx: CliContext = {
  io: { out: () => undefined, err: () => undefined, isTTY: false },
  env: {},
  client: () => {
    throw new Error('the man page needs no daemon');
  },
};
const info = { version: '9.8.7', date: '2026-01-31' };

describe('man page', () => {
  const page = manPage(buildProgram(ctx), info);

  it('has a .SS section for every command path and a .TP for every option of it', () => {
    const program = buildProgram(ctx);
    let commands = 0;
    let options = 0;
    const walk = (c: Command, path: string[]): void => {
      for (const s of c.commands) {
        if (s.name() === 'help') continue;
        const p = [...path, s.name()];
        expect(page).toContain(`.SS "${troffText(`fecflow ${p.join(' ')}`)}"`);
        commands++;
        for (const o of s.options) {
          expect(page).toContain(troffText(o.flags));
          options++;
        }
        walk(s, p);
      }
    };
    walk(program, []);
    // the tree is real: serve, isp add, subscriber move, completion … and their options
    expect(commands).toBeGreaterThan(20);
    expect(options).toBeGreaterThan(30);
    expect(page).toContain('.SS "fecflow isp set\\-rate"');
    expect(page).toContain('\\fB\\-c, \\-\\-config <file>\\fR');
  });

  it('puts the version and date in the title line', () => {
    expect(page.split('\n')[1]).toBe('.TH FECFLOW 1 "2026\\-01\\-31" "fecflow 9.8.7" "User Commands"');
  });

  it('escapes hostile help text: no line starts a request, backslashes and quotes stay literal', () => {
    const evil = new Command('evil').description('.so /etc/shadow\n\'br\nback\\slash "q"');
    evil.command('sub').description('.TH X').option('--x <v>', '\\fBbold\\fR');
    const out = manPage(evil, info);
    const requests = out.split('\n').filter((l) => /^[.']/.test(l)).map((l) => l.split(/\s/)[0]);
    expect(new Set(requests)).toEqual(new Set(['.\\"', '.TH', '.SH', '.SS', '.TP', '.br']));
    expect(out).toContain('\\&.so /etc/shadow');
    expect(out).toContain("\\&'br");
    expect(out).toContain('back\\eslash "q"');
    expect(out).toContain('\\efBbold\\efR');
    expect(out).toContain('\\&.TH X');
  });

  it('renders with man(1) without a single warning', () => {
    const man = spawnSync('sh', ['-c', 'command -v man'], { encoding: 'utf8' });
    if (man.status !== 0) {
      expect(process.env.CI, 'man(1) is missing (apt: man-db)').not.toBe('true');
      return;
    }
    const dir = mkdtempSync(join(tmpdir(), 'fecflow-man-'));
    try {
      writeFileSync(join(dir, 'fecflow.1'), page);
      const r = spawnSync('man', ['--warnings', '-E', 'UTF-8', '-l', '-Tutf8', '-Z', join(dir, 'fecflow.1')], {
        encoding: 'utf8',
        env: { ...process.env, LC_ALL: 'C.UTF-8', MANWIDTH: '80' },
      });
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      expect(r.stdout.length).toBeGreaterThan(5000);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
