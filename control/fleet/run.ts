// `fecflow controller serve`: the controller as a process — its store, its token, its HTTP API,
// and the NATS side — until SIGTERM/SIGINT. NATS being away does not stop it from starting:
// intent changes are taken and kept, and published when NATS is back.
import { join } from 'node:path';
import { createLogger, type Logger } from '../log.js';
import { formatListen, listen, parseListen } from '../api/server.js';
import { TokenStore } from '../daemon/token.js';
import { ControllerStore } from './store.js';
import { Controller } from './controller.js';
import type { Tolerance } from './accounting.js';

export interface ControllerRunOptions {
  nats: string;
  stateDir: string;
  listen: string[];
  logLevel?: string;
  checkMs?: number;
  tolerance?: Tolerance;
}

export const DEFAULT_CONTROLLER_DIR = '/var/lib/fecflow-controller';
export const DEFAULT_CONTROLLER_LISTEN = '127.0.0.1:9190';

export function controllerStorePath(stateDir: string): string {
  return join(stateDir, 'controller.sqlite');
}

export async function runController(o: ControllerRunOptions, log: Logger = createLogger({ level: o.logLevel })): Promise<void> {
  const store = ControllerStore.open(controllerStorePath(o.stateDir));
  const tokens = TokenStore.inDir(o.stateDir);
  await tokens.load();
  const controller = new Controller({ store, url: o.nats, log: log.child({ part: 'controller' }), checkMs: o.checkMs, tolerance: o.tolerance });
  const addresses = (o.listen.length ? o.listen : [DEFAULT_CONTROLLER_LISTEN]).map(parseListen);
  let api: Awaited<ReturnType<typeof listen>>;
  try {
    api = await listen(controller.handler(tokens), addresses);
  } catch (err) {
    store.close();
    throw new Error(`cannot listen on ${addresses.map((a) => formatListen(a)).join(', ')}: ${(err as Error).message}`);
  }
  log.info({ listen: api.bound.map((a) => formatListen(a)), token: tokens.path, store: store.path, controller: store.id, nats: o.nats }, 'controller listening');
  controller.start();
  await new Promise<void>((resolve) => {
    const stop = (sig: string) => () => {
      log.info({ why: sig }, 'controller stopping');
      process.off('SIGTERM', term);
      process.off('SIGINT', int);
      void (async () => {
        await controller.stop();
        await api.close();
        store.close();
        resolve();
      })();
    };
    const term = stop('SIGTERM');
    const int = stop('SIGINT');
    process.on('SIGTERM', term);
    process.on('SIGINT', int);
  });
}
