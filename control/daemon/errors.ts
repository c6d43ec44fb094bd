// Errors the daemon reports to its callers (the HTTP API, `serve`). Each carries a kind the
// API turns into a status code, and for invalid input the offending paths, so an operator sees
// `isps[2].fec.labels[0]: label 3 is reserved` rather than a stack trace.
export type DaemonErrorKind =
  | 'invalid' // the request or the config it would produce fails validation
  | 'not_found' // the ISP or subscriber named does not exist
  | 'conflict' // it already exists, or is still in use
  | 'unavailable' // the data plane is not attached (detached, or failed to start)
  | 'storage' // the registry could not record the change (disk full): nothing was changed
  | 'failed'; // the data plane refused a write, or another internal failure

export interface Issue {
  path: string;
  message: string;
}

export class DaemonError extends Error {
  constructor(
    readonly kind: DaemonErrorKind,
    message: string,
    readonly issues: Issue[] = [],
  ) {
    super(message);
    this.name = 'DaemonError';
  }
}

export function invalid(message: string, issues: Issue[] = []): DaemonError {
  return new DaemonError('invalid', message, issues);
}
export function notFound(message: string): DaemonError {
  return new DaemonError('not_found', message);
}
export function conflict(message: string): DaemonError {
  return new DaemonError('conflict', message);
}
