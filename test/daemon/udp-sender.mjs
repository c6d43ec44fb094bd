// Sends `count` UDP datagrams of `size` bytes to dst:port at about `pps` per second, then prints
// how many were handed to the kernel. Run inside a test namespace (ip netns exec).
import dgram from 'node:dgram';

const [dst, port, count, pps, size = '100'] = process.argv.slice(2);
const n = Number(count);
const gap = 1000 / Number(pps);
const sock = dgram.createSocket('udp4');
const payload = Buffer.alloc(Number(size), 0x5a);
let sent = 0;
const t0 = Date.now();
for (let i = 0; i < n; i++) {
  const due = t0 + i * gap;
  const wait = due - Date.now();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  payload.writeUInt32BE(i, 0);
  await new Promise((resolve, reject) => sock.send(payload, Number(port), dst, (err) => (err ? reject(err) : resolve())));
  sent++;
}
sock.close();
process.stdout.write(`${sent}\n`);
