// Writes the package's debian/copyright (machine-readable format 1.0) to stdout: fecflow's own
// licence, then one paragraph per bundled npm package with its licence text, so the notices
// the MIT/ISC/BSD licences require travel with the .deb even after node_modules is trimmed.
//   node copyright.mjs <staged /usr/lib/fecflow> <project licence file or "">
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const [appDir, projectLicence] = process.argv.slice(2);
const pkg = JSON.parse(readFileSync(join(appDir, 'package.json'), 'utf8'));

/** A DEP-5 multi-line field body: each line indented, blank lines as " .". */
const body = (text) =>
  text
    .replace(/\r/g, '')
    .trim()
    .split('\n')
    .map((l) => (l.trim() === '' ? ' .' : ` ${l.replace(/\s+$/, '')}`))
    .join('\n');

/** Every package directory under node_modules, scoped ones included, nested ones too. */
function packages(dir, out = []) {
  if (!existsSync(dir)) return out;
  for (const name of readdirSync(dir).sort()) {
    if (name.startsWith('.')) continue;
    const p = join(dir, name);
    if (name.startsWith('@')) {
      packages(p, out);
      continue;
    }
    if (existsSync(join(p, 'package.json'))) {
      out.push(p);
      packages(join(p, 'node_modules'), out);
    }
  }
  return out;
}

function licenceText(dir) {
  const f = readdirSync(dir).find((n) => /^(licen[cs]e|copying)(\.(md|txt|markdown))?$/i.test(n));
  return f ? readFileSync(join(dir, f), 'utf8') : undefined;
}

function holder(meta, text) {
  const line = text?.split('\n').find((l) => /copyright\s+(\(c\)|©|\d{4})/i.test(l));
  if (line) return line.replace(/^\s*(copyright\s*)?/i, '').trim() || line.trim();
  const a = meta.author;
  return (typeof a === 'string' ? a : a?.name) ?? `the authors of ${meta.name}`;
}

const out = [
  'Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/',
  `Upstream-Name: ${pkg.name}`,
  '',
  'Files: *',
  'Copyright: fecflow contributors',
  `License: ${pkg.license}`,
];
if (!projectLicence || !existsSync(projectLicence)) throw new Error(`the project's licence file ${projectLicence} is missing`);
out.push(body(readFileSync(projectLicence, 'utf8')));
out.push('');

const root = join(appDir, 'node_modules');
for (const dir of packages(root)) {
  const meta = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  const licence = typeof meta.license === 'string' ? meta.license : meta.license?.type ?? 'UNKNOWN';
  const text = licenceText(dir);
  out.push(`Files: usr/lib/fecflow/${dir.slice(appDir.length + 1)}/*`);
  out.push(`Copyright: ${holder(meta, text).replace(/\n/g, ' ')}`);
  out.push(`License: ${licence}`);
  if (existsSync(`/usr/share/common-licenses/${licence}`)) {
    // Debian policy: licences Debian ships in full are referred to, not repeated.
    out.push(` On Debian systems the full text of the ${licence} licence is in /usr/share/common-licenses/${licence}.`);
  } else {
    out.push(text ? body(text) : ` ${meta.name} ${meta.version} declares ${licence} and ships no licence file.`);
  }
  out.push('');
}
process.stdout.write(out.join('\n'));
