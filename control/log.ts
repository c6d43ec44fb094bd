// Structured JSON logging for the daemon and the CLI's `serve`. One pino logger per process;
// parts take a child with their own `part` field so an operator can filter `part=reconcile`.
// Tests pass their own destination (or `silent`) instead of writing to stderr.
import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger } from 'pino';

export interface LogOptions {
  level?: string;
  /** where the JSON lines go; stderr when omitted, so stdout stays free for command output */
  destination?: DestinationStream;
}

export function createLogger(opts: LogOptions = {}): Logger {
  const level = opts.level ?? process.env.FECFLOW_LOG_LEVEL ?? 'info';
  return pino(
    {
      level,
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    opts.destination ?? pino.destination({ fd: 2, sync: true }),
  );
}

/** A logger that drops everything, for unit tests and library use. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
