// How the CLI prints: aligned plain-text tables for people, JSON for scripts (`--json`), and
// numbers with SI prefixes (1.2 Gbit/s). Nothing here knows about the API.
export interface Io {
  out(text: string): void;
  err(text: string): void;
  /** stdout is a terminal (progress bars, colours) */
  isTTY: boolean;
}

export const processIo: Io = {
  out: (t) => void process.stdout.write(t),
  err: (t) => void process.stderr.write(t),
  get isTTY() {
    return process.stdout.isTTY === true;
  },
};

export type Cell = string | number | bigint | null | undefined;

/** Columns padded to the widest cell; numbers right-aligned. */
export function table(headers: string[], rows: Cell[][]): string {
  const text = rows.map((r) => r.map((c) => (c === null || c === undefined ? '-' : String(c))));
  const numeric = headers.map((_h, i) => rows.length > 0 && rows.every((r) => r[i] === null || r[i] === undefined || typeof r[i] === 'number' || typeof r[i] === 'bigint' || /^[\d.,]+\s?[a-zA-Z/]*$/.test(String(r[i]))));
  const width = headers.map((h, i) => Math.max(h.length, ...text.map((r) => r[i]!.length)));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => (numeric[i] ? c.padStart(width[i]!) : c.padEnd(width[i]!)))
      .join('  ')
      .trimEnd();
  return [line(headers.map((h) => h.toUpperCase())), ...text.map(line)].join('\n') + '\n';
}

export function json(value: unknown): string {
  return JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? v.toString() : v), 2) + '\n';
}

const PREFIXES = ['', 'k', 'M', 'G', 'T', 'P'];

/** 1234567 -> '1.23M'; below 1000 printed as is (rounded to 3 significant digits). */
export function si(n: number, unit = ''): string {
  let i = 0;
  let v = Math.abs(n);
  while (v >= 1000 && i < PREFIXES.length - 1) {
    v /= 1000;
    i++;
  }
  const s = v === 0 ? '0' : v >= 100 || i === 0 && Number.isInteger(v) ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2);
  return `${n < 0 ? '-' : ''}${s}${unit ? ` ${PREFIXES[i]}${unit}` : PREFIXES[i]}`;
}

/** A one-line progress bar for a TTY, redrawn in place; nothing on a pipe. */
export class ProgressBar {
  private lastDraw = 0;
  constructor(
    private readonly io: Io,
    private readonly label: string,
    private readonly total: number,
    private readonly width = 30,
  ) {}

  update(done: number, force = false): void {
    if (!this.io.isTTY) return;
    const now = Date.now();
    if (!force && now - this.lastDraw < 50 && done < this.total) return;
    this.lastDraw = now;
    const frac = this.total > 0 ? Math.min(1, done / this.total) : 1;
    const filled = Math.round(frac * this.width);
    this.io.out(`\r${this.label} [${'#'.repeat(filled)}${'.'.repeat(this.width - filled)}] ${String(Math.round(frac * 100)).padStart(3)}% ${done}/${this.total}`);
  }

  done(message?: string): void {
    if (!this.io.isTTY) return;
    this.update(this.total, true);
    this.io.out(message ? `\r\x1b[2K${message}\n` : '\n');
  }
}
