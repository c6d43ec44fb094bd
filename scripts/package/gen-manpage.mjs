// Prints fecflow(1) from a built tree's own CLI: node gen-manpage.mjs <app dir> <version> <date>
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';

const [app, version, date] = process.argv.slice(2);
const { buildProgram } = await import(pathToFileURL(join(app, 'dist/control/cli/main.js')).href);
const { manPage } = await import(pathToFileURL(join(app, 'dist/control/cli/manpage.js')).href);
const ctx = {
  io: { out: () => undefined, err: () => undefined, isTTY: false },
  env: {},
  client: () => {
    throw new Error('the man page needs no daemon');
  },
};
process.stdout.write(manPage(buildProgram(ctx), { version, date }));
