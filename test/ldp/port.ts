// A TCP port free on loopback right now, for speakers that must share one port across several
// 127.0.0.x transport addresses (a fixed number could collide with another test run).
import net from 'node:net';

export async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen({ host: '127.0.0.1', port: 0 }, () => r()));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}
