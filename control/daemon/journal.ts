// The journal of API subscriber edits: an append-only file next to the config file, one JSON
// line per edit, written before the API answers. Rewriting a config of a million subscribers
// for every move would take seconds; a journal line takes microseconds. The config file and
// the journal together are the running config: a restarted daemon (also after kill -9) reads
// the file, replays the journal on top, and folds both back into the file (compaction).
//
// The first line names the exact file text the journal extends (its SHA-256). When the file
// no longer has that text, someone else wrote it after the journal began: the file wins, and
// the journal is kept aside (renamed, never deleted) for the operator to look at.
import { createHash } from 'node:crypto';
import { closeSync, fdatasync, fsyncSync, openSync, readFileSync, renameSync, writeSync, existsSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

export interface JournalEntry {
  /** ISO time of the edit */
  at: string;
  trigger: string;
  /** the edit in API terms (control/daemon/model.ts SubscriberOp) */
  op: unknown;
}

const MAGIC = 'fecflow-journal';

export function digest(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** Where the journal of a config file lives: a hidden file next to it. */
export function journalPathFor(configPath: string): string {
  return join(dirname(configPath), `.${basename(configPath)}.journal`);
}

export class Journal {
  private fd: number | undefined;
  private size = 0;
  private lines = 0;
  private syncing = false;
  private dirty = false;

  constructor(readonly path: string) {}

  /** Bytes of edits since the journal began (the header left out). */
  get bytes(): number {
    return this.size;
  }

  /** Edits since the journal began. */
  get count(): number {
    return this.lines;
  }

  /**
   * The edits to replay on top of `fileText`. When the journal extends another text, it is
   * renamed aside and its path returned in `setAside`; a last line cut off by a crash is left out.
   */
  read(fileText: string): { entries: JournalEntry[]; setAside?: string } {
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch {
      return { entries: [] };
    }
    const lines = text.split('\n');
    // everything after the last newline was being written when the daemon died
    lines.pop();
    let header: { [MAGIC]?: number; base?: string } | undefined;
    try {
      header = JSON.parse(lines[0] ?? '');
    } catch {
      header = undefined;
    }
    if (!header || header[MAGIC] !== 1 || header.base !== digest(fileText)) {
      if (lines.length <= 1 && header?.[MAGIC] === 1) return { entries: [] }; // nothing in it
      return { entries: [], setAside: this.setAside('stale') };
    }
    const entries: JournalEntry[] = [];
    for (const l of lines.slice(1)) {
      if (l.trim() === '') continue;
      entries.push(JSON.parse(l) as JournalEntry);
    }
    return { entries };
  }

  /** Starts an empty journal on top of `fileText` (after the file was written or read). */
  reset(fileText: string): void {
    this.close();
    const tmp = `${this.path}.${process.pid}.tmp`;
    const fd = openSync(tmp, 'w', 0o600);
    try {
      writeSync(fd, `${JSON.stringify({ [MAGIC]: 1, base: digest(fileText), created: new Date().toISOString() })}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.path);
    this.fd = openSync(this.path, 'a');
    this.size = 0;
    this.lines = 0;
  }

  /** Renames the journal aside (it is never deleted); returns where it went. */
  setAside(why: string): string | undefined {
    this.close();
    const aside = `${this.path}.${why}-${new Date().toISOString().replace(/[:.]/g, '-')}`;
    try {
      renameSync(this.path, aside);
    } catch {
      return undefined;
    }
    this.size = 0;
    this.lines = 0;
    return aside;
  }

  /** Whether a journal file exists. */
  exists(): boolean {
    return existsSync(this.path);
  }

  /**
   * Appends an edit. The line is in the file (the kernel's page cache) when this returns, so a
   * killed daemon keeps it; fdatasync follows in the background for a power cut.
   */
  append(e: JournalEntry): void {
    if (this.fd === undefined) throw new Error('the journal is not open');
    const line = `${JSON.stringify(e)}\n`;
    writeSync(this.fd, line);
    this.size += Buffer.byteLength(line);
    this.lines++;
    this.sync();
  }

  private sync(): void {
    if (this.fd === undefined) return;
    if (this.syncing) {
      this.dirty = true;
      return;
    }
    this.syncing = true;
    this.dirty = false;
    fdatasync(this.fd, () => {
      this.syncing = false;
      if (this.dirty) this.sync();
    });
  }

  close(): void {
    if (this.fd !== undefined) {
      try {
        fsyncSync(this.fd);
      } catch {
        /* closed under us */
      }
      closeSync(this.fd);
    }
    this.fd = undefined;
  }
}
