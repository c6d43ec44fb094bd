// The API's bearer token: 32 random bytes, hex, created at first start and kept in a file of
// mode 0600 in the state directory, so only root (and whoever root lets read it) can change
// the router through the API. Rotation writes a new file atomically; the old token stops
// working at once.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdir, readFile, rename, writeFile, chmod } from 'node:fs/promises';
import { join } from 'node:path';

export const TOKEN_FILE = 'token';

export class TokenStore {
  private token = '';

  constructor(readonly path: string) {}

  static inDir(stateDir: string): TokenStore {
    return new TokenStore(join(stateDir, TOKEN_FILE));
  }

  /** Read the token file, creating it with a fresh token when there is none. */
  async load(): Promise<void> {
    try {
      const t = (await readFile(this.path, 'utf8')).trim();
      if (t.length >= 32) {
        this.token = t;
        await chmod(this.path, 0o600);
        return;
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    await this.rotate();
  }

  /** Replace the token; returns the new one. */
  async rotate(): Promise<string> {
    const t = randomBytes(32).toString('hex');
    const dir = this.path.slice(0, this.path.lastIndexOf('/')) || '.';
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const tmp = `${this.path}.${process.pid}.tmp`;
    await writeFile(tmp, `${t}\n`, { mode: 0o600 });
    await rename(tmp, this.path);
    this.token = t;
    return t;
  }

  /** Constant-time check of an `Authorization` header value. */
  check(header: string | undefined): boolean {
    if (!header || !this.token) return false;
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!m) return false;
    const given = Buffer.from(m[1]!);
    const want = Buffer.from(this.token);
    return given.length === want.length && timingSafeEqual(given, want);
  }
}
