// fecflow(1), the man page, generated from the command tree and commander's own help text, so
// it says exactly what `fecflow … --help` says (the Debian package runs this at build time;
// scripts/package/gen-manpage.mjs). Output is plain man(7) troff.
import { Help, type Command } from 'commander';

export interface ManPageInfo {
  version: string;
  /** YYYY-MM-DD, the date printed in the footer (the build's, so the page is reproducible) */
  date: string;
}

/**
 * Text made safe for troff: a backslash is printed as such, a minus sign is a minus sign (so
 * options can be searched and copied), and a line cannot start with a control character ('.'
 * or '\'') and so cannot smuggle in a request.
 */
export function troffText(s: string): string {
  return s
    .replace(/\\/g, '\\e')
    .replace(/-/g, '\\-')
    .split('\n')
    .map((line) => (/^[.']/.test(line) ? `\\&${line}` : line))
    .join('\n');
}

/** A double-quoted macro argument (.TH, .SS): quotes inside are doubled per groff. */
function quoted(s: string): string {
  return `"${troffText(s).replace(/\n/g, ' ').replace(/"/g, '""')}"`;
}

function bold(s: string): string {
  return `\\fB${troffText(s)}\\fR`;
}

/** Every command below `program`, depth first, with its full path ("isp set-rate"). */
function commandsOf(program: Command, help: Help): Array<{ path: string[]; cmd: Command }> {
  const out: Array<{ path: string[]; cmd: Command }> = [];
  const walk = (c: Command, path: string[]): void => {
    for (const sub of help.visibleCommands(c)) {
      if (sub.name() === 'help') continue;
      const p = [...path, sub.name()];
      out.push({ path: p, cmd: sub });
      walk(sub, p);
    }
  };
  walk(program, []);
  return out;
}

/** The options of one command as .TP paragraphs (--help is on every command and said once). */
function optionList(cmd: Command, help: Help, skipHelp: boolean): string[] {
  const lines: string[] = [];
  for (const o of help.visibleOptions(cmd)) {
    if (skipHelp && o.long === '--help') continue;
    lines.push('.TP', bold(help.optionTerm(o)), troffText(help.optionDescription(o)));
  }
  return lines;
}

function argumentList(cmd: Command, help: Help): string[] {
  const lines: string[] = [];
  for (const a of help.visibleArguments(cmd)) {
    lines.push('.TP', `\\fI${troffText(help.argumentTerm(a))}\\fR`, troffText(help.argumentDescription(a)));
  }
  return lines;
}

/** The whole page for `program` (the CLI as buildProgram() makes it). */
export function manPage(program: Command, info: ManPageInfo): string {
  const help = program.createHelp();
  const name = program.name();
  const lines: string[] = [
    `.\\" ${name}(1), generated from \`${name} --help\` of version ${info.version}; do not edit.`,
    `.TH ${name.toUpperCase()} 1 ${quoted(info.date)} ${quoted(`${name} ${info.version}`)} "User Commands"`,
    '.SH NAME',
    `${name} \\- ${troffText(program.description())}`,
    '.SH SYNOPSIS',
    `${bold(name)} [\\fIglobal options\\fR] \\fIcommand\\fR [\\fIoptions\\fR] [\\fIarguments\\fR]`,
    '.SH DESCRIPTION',
    troffText(
      `${name} runs the forwarder's daemon (${name} serve, normally as the systemd unit ${name}.service) ` +
        'and talks to a running daemon over its API. Every command prints its own help with --help.',
    ),
    '.SH GLOBAL OPTIONS',
    ...optionList(program, help, false),
    '.SH COMMANDS',
  ];
  for (const { path, cmd } of commandsOf(program, help)) {
    lines.push(`.SS ${quoted(`${name} ${path.join(' ')}`)}`);
    // commandUsage() already names the parents: "fecflow isp add [options] <name>".
    lines.push(troffText(`Usage: ${help.commandUsage(cmd)}`));
    lines.push('.br');
    lines.push(troffText(help.commandDescription(cmd)));
    const aliases = cmd.aliases();
    if (aliases.length) lines.push('.br', troffText(`Also: ${aliases.join(', ')}.`));
    lines.push(...argumentList(cmd, help), ...optionList(cmd, help, true));
  }
  lines.push(
    '.SH EXIT STATUS',
    '0 success, 1 failure, 2 usage error (a bad option or argument, or a question not confirmed).',
    '.SH FILES',
    '.TP',
    bold('/etc/fecflow/router.yaml'),
    troffText('the router file; the systemd unit starts only when it exists. Examples: /usr/share/doc/fecflow/examples/.'),
    '.TP',
    bold('/var/lib/fecflow/'),
    troffText('the daemon\'s state (the API token). Kept when the package is removed, deleted when it is purged.'),
    '.TP',
    bold('/sys/fs/bpf/fecflow/'),
    troffText('the pinned programs and maps, per node: forwarding goes on while the daemon is stopped or upgraded.'),
    '.SH SEE ALSO',
    '\\fBsystemctl\\fR(1), \\fBjournalctl\\fR(1)',
    '',
  );
  return lines.join('\n');
}
