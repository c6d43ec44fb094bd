// A failure the CLI reports as one line (plus the issues, one per line) and an exit code:
// 1 for a failure, 2 for a usage error.
export interface CliIssue {
  path: string;
  message: string;
}

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
    readonly issues: CliIssue[] = [],
  ) {
    super(message);
    this.name = 'CliError';
  }
}
