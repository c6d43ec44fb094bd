// A load generator for the two-CPU policer test, run pinned to one CPU with `taskset`:
// BPF_PROG_TEST_RUN of one program (by id) on one frame in a loop for a given time, through the
// addon directly (plain JS, so no TypeScript loader is needed in the child). Prints JSON.
import { createRequire } from 'node:module';

const [addon, progId, frameHex, ms, ifindex] = process.argv.slice(2);
const b = createRequire(import.meta.url)(addon);
const fd = b.progGetFdById(Number(progId));
const data = Buffer.from(frameHex, 'hex');
const ctx = Buffer.alloc(24);
ctx.writeUInt32LE(data.length, 4);
ctx.writeUInt32LE(Number(ifindex), 12);
const start = Date.now();
let runs = 0;
let passed = 0;
const end = start + Number(ms);
while (Date.now() < end) {
  for (let i = 0; i < 100; i++) {
    const r = b.progTestRun(fd, { data, ctx });
    runs++;
    if (r.retval === 4) passed++;
  }
}
fd.close();
process.stdout.write(JSON.stringify({ runs, passed, start, end: Date.now() }));
