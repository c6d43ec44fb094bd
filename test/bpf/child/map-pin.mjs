// Child process for the cross-process pin test: opens a pinned map with the raw addon, reads one
// key, writes another, and prints what it read as JSON. Plain JS so it runs without a TS build.
import { createRequire } from 'node:module';

const args = JSON.parse(process.argv[2]);
const b = createRequire(import.meta.url)(args.addon);
const fd = b.objGet(args.path);
try {
  const key = Buffer.from(args.readKey, 'hex');
  const value = Buffer.alloc(args.valueSize);
  const found = b.mapLookupElem(fd, key, value);
  b.mapUpdateElem(fd, Buffer.from(args.writeKey, 'hex'), Buffer.from(args.writeValue, 'hex'), b.constants.BPF_ANY);
  process.stdout.write(JSON.stringify({ found, value: value.toString('hex'), kind: b.fdKind(fd) }));
} finally {
  fd.close();
}
