// What every command module gets: where to print, the environment, and a client configured
// from the global flags. Tests build one with fake output and their own daemon address.
import type { Command } from 'commander';
import { createClient, type ApiClient } from './client.js';
import type { Io } from './output.js';

export interface CliContext {
  io: Io;
  env: NodeJS.ProcessEnv;
  client(cmd: Command): ApiClient;
}

export interface CommandModule {
  /** add this module's commands to the program */
  register(program: Command, ctx: CliContext): void;
}

export function defaultClientFactory(env: NodeJS.ProcessEnv): (cmd: Command) => ApiClient {
  return (cmd) => {
    const o = cmd.optsWithGlobals<{ url?: string; socket?: string; token?: string; tokenFile?: string; ca?: string; cert?: string; key?: string; insecurePlainHttp?: boolean }>();
    return createClient({ url: o.url, socket: o.socket, token: o.token, tokenFile: o.tokenFile, ca: o.ca, cert: o.cert, key: o.key, insecurePlainHttp: o.insecurePlainHttp }, env);
  };
}

/** The --json flag of a listing, or of the whole program. */
export function wantsJson(cmd: Command): boolean {
  return cmd.optsWithGlobals<{ json?: boolean }>().json === true;
}
