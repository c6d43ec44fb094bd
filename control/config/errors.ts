// Every configuration mistake, reported together: a ConfigError carries the whole list, each
// issue naming where it is (subscribers[3].match.prefix) and what is wrong.

export interface ConfigIssue {
  /** e.g. 'subscribers[3].match.prefix[0]'; '' for the document itself */
  path: string;
  message: string;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly issues: ConfigIssue[];

  constructor(issues: ConfigIssue[], source?: string) {
    const head = `${source ? `${source}: ` : ''}invalid configuration (${issues.length} ${issues.length === 1 ? 'problem' : 'problems'})`;
    super([head, ...issues.map((i) => `  ${i.path || '(document)'}: ${i.message}`)].join('\n'));
    this.issues = issues;
  }
}

const IDENT = /^[A-Za-z_][A-Za-z0-9_-]*$/;

/** ['subscribers', 3, 'match', 'prefix'] → 'subscribers[3].match.prefix' */
export function formatPath(path: ReadonlyArray<string | number>): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else if (IDENT.test(p)) out += out ? `.${p}` : p;
    else out += `[${JSON.stringify(p)}]`;
  }
  return out;
}
