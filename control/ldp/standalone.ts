// The speaker as a process of its own, driven over stdio with JSON lines: what the interop
// tests start inside a network namespace (`nsenter --net=... node dist/control/ldp/standalone.js
// config.json`), and a way to try LDP against a router before the daemon hosts the speaker.
// stdin:  {"id":1,"cmd":"views"} | {"id":2,"cmd":"egress","prefixes":[...]} |
//         {"id":3,"cmd":"routes","routes":{"prefix":"next hop"}} | {"id":4,"cmd":"stop"}
// stdout: {"event":"ready"} | {"event":"fec",...} | {"event":"session",...} | {"reply":1,...}
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { createLogger } from '../log.js';
import { LdpSpeaker, type SpeakerOptions } from './speaker.js';

interface Config extends Omit<SpeakerOptions, 'resolveNextHop' | 'log' | 'acceptTransport' | 'localAddresses'> {
  routes?: Record<string, string>;
}

const print = (o: unknown): void => void process.stdout.write(JSON.stringify(o) + '\n');

async function main(): Promise<void> {
  const path = process.argv[2];
  if (!path) {
    process.stderr.write('usage: standalone.js <config.json>\n');
    process.exit(2);
  }
  const cfg = JSON.parse(readFileSync(path, 'utf8')) as Config;
  let routes = cfg.routes ?? {};
  const log = createLogger({ level: process.env.FECFLOW_LOG_LEVEL ?? 'info' }).child({ part: 'ldp' });
  const speaker = new LdpSpeaker({ ...cfg, resolveNextHop: (p) => routes[p], log });
  speaker.on('fec', (c) => print({ event: 'fec', ...c }));
  speaker.on('session', (s) => print({ event: 'session', ...s }));
  await speaker.start();
  print({ event: 'ready' });
  const stop = async (): Promise<void> => {
    await speaker.stop();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop());
  for await (const line of createInterface({ input: process.stdin })) {
    if (!line.trim()) continue;
    let req: { id?: number; cmd?: string; prefixes?: string[]; routes?: Record<string, string> };
    try {
      req = JSON.parse(line);
    } catch {
      print({ error: 'not JSON' });
      continue;
    }
    switch (req.cmd) {
      case 'views':
        print({ reply: req.id, neighbors: speaker.neighbors(), bindings: speaker.bindings(), discovery: speaker.discovery(), stats: speaker.stats() });
        break;
      case 'egress':
        speaker.setEgress(req.prefixes ?? []);
        print({ reply: req.id, ok: true });
        break;
      case 'routes':
        routes = req.routes ?? {};
        speaker.routesChanged();
        print({ reply: req.id, ok: true });
        break;
      case 'stop':
        print({ reply: req.id, ok: true });
        await stop();
        break;
      default:
        print({ reply: req.id, error: `unknown command ${req.cmd}` });
    }
  }
  await stop();
}

void main();
