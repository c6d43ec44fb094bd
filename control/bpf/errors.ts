// Typed errors of the BPF layer. The addon throws plain Errors carrying errno, code and op; every
// call from control/bpf/ goes through call(), which turns them into BpfError or VerifierError.

/** A failed BPF (or related system) call. */
export class BpfError extends Error {
  /** Positive errno value, e.g. 2. */
  readonly errno: number;
  /** Symbolic errno, e.g. 'ENOENT'. */
  readonly code: string;
  /** The libbpf or system call that failed, e.g. 'bpf_map_update_elem'. */
  readonly op: string;

  constructor(op: string, errno: number, code: string, detail?: string, options?: { cause?: unknown; reason?: string }) {
    super(BpfError.describe(op, errno, code, detail, options?.reason), options);
    this.name = 'BpfError';
    this.errno = errno;
    this.code = code;
    this.op = op;
  }

  /** Readable text for an error; EPERM says which privilege is missing. */
  static describe(op: string, errno: number, code: string, detail?: string, reason?: string): string {
    let text: string;
    switch (code) {
      case 'EPERM':
        text =
          'operation not permitted: BPF needs root or CAP_BPF (plus CAP_NET_ADMIN for XDP and ' +
          'CAP_PERFMON for some programs); on kernels before 5.11 the locked-memory limit ' +
          "(ulimit -l / RLIMIT_MEMLOCK) may also be too low — raise it or run as root";
        break;
      case 'ENOENT':
        text = 'no such entry or file';
        break;
      case 'EEXIST':
        text = 'already exists';
        break;
      case 'EBADF':
        text = 'bad or closed file descriptor';
        break;
      case 'ENOTSUPP':
      case 'EOPNOTSUPP':
        text = 'not supported by this kernel, map or program type';
        break;
      case 'E2BIG':
        text = 'too big (map full or argument too large)';
        break;
      case 'ENOSPC':
        text = 'no space left (map full or buffer too small)';
        break;
      default:
        text = reason ? reason.charAt(0).toLowerCase() + reason.slice(1) : code.toLowerCase();
    }
    return `${op}: ${text} (${code}, errno ${errno})${detail ? `: ${detail}` : ''}`;
  }
}

/** The kernel's verifier rejected a program; log holds the verifier's output. */
export class VerifierError extends BpfError {
  readonly log: string;
  /** The program the verifier rejected, when libbpf named it. */
  readonly program: string | undefined;

  constructor(op: string, errno: number, code: string, log: string, program?: string) {
    const first = firstVerifierComplaint(log);
    super(op, errno, code, `verifier rejected ${program ? `program '${program}'` : 'a program'}${first ? `: ${first}` : ''}`);
    this.name = 'VerifierError';
    this.log = log;
    this.program = program;
  }
}

/** A pinned map exists but does not match the object's definition of it. */
export class PinnedMapMismatchError extends BpfError {
  constructor(readonly path: string, readonly differences: string[]) {
    super('reuse pinned map', 22, 'EINVAL', `pin ${path} does not match the object's map (${differences.join('; ')}); remove the pin or fix the program`);
    this.name = 'PinnedMapMismatchError';
  }
}

const BEGIN = '-- BEGIN PROG LOAD LOG --';
const END = '-- END PROG LOAD LOG --';

/** The verifier's own log out of libbpf's messages, or undefined when there is none. */
export function extractVerifierLog(libbpfLog: string): { log: string; program?: string } | undefined {
  const b = libbpfLog.indexOf(BEGIN);
  if (b < 0) return undefined;
  const e = libbpfLog.indexOf(END, b);
  const log = libbpfLog.slice(b + BEGIN.length, e < 0 ? undefined : e).replace(/^\n/, '');
  const m = /prog '([^']+)': -- BEGIN PROG LOAD LOG/.exec(libbpfLog);
  return { log, program: m?.[1] };
}

function firstVerifierComplaint(log: string): string | undefined {
  const lines = log.split('\n').map((l) => l.trim());
  return lines.find((l) => /invalid|unbounded|out of bounds|not allowed|unknown|!read_ok|misaligned|too large|infinite loop|back-edge/i.test(l) && !l.startsWith(';'));
}

interface NativeErrorShape {
  message: string;
  errno?: unknown;
  code?: unknown;
  op?: unknown;
  log?: unknown;
  count?: unknown;
}

/** Converts an error thrown by the addon into a BpfError (or VerifierError); other errors pass. */
export function fromNative(e: unknown): unknown {
  if (!(e instanceof Error) || e instanceof BpfError) return e;
  const n = e as Error & NativeErrorShape;
  if (typeof n.errno !== 'number' || typeof n.code !== 'string' || typeof n.op !== 'string') return e;
  const log = typeof n.log === 'string' ? n.log : undefined;
  if (log !== undefined) {
    const v = extractVerifierLog(log);
    if (v) return new VerifierError(n.op, n.errno, n.code, v.log, v.program);
  }
  const path = (n as { path?: unknown }).path;
  const detail = typeof path === 'string' ? path : undefined;
  // The addon's message is "<op>: <strerror> (<CODE>)".
  const reason = n.message.startsWith(`${n.op}: `) ? n.message.slice(n.op.length + 2).replace(/ \([A-Z0-9]+\)$/, '') : undefined;
  const err = new BpfError(n.op, n.errno, n.code, detail, { cause: e, reason });
  if (log) Object.defineProperty(err, 'log', { value: log, enumerable: true });
  if (typeof n.count === 'number') Object.defineProperty(err, 'count', { value: n.count, enumerable: true });
  return err;
}

/** Runs a native call, rethrowing its error as a BpfError. */
export function call<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    throw fromNative(e);
  }
}

/** Builds the error a closed handle throws when it is used. */
export function closedError(what: string): BpfError {
  return new BpfError(what, 9, 'EBADF', 'handle is closed');
}
