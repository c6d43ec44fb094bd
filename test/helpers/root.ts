// Gate for tests that need root (BPF, network namespaces). Outside CI they skip with a visible
// reason; under CI=true a missing privilege is a failure, never a silent skip.
import { describe } from 'vitest';

export const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
export const inCi = process.env.CI === 'true';

const reason = 'needs root (BPF and network namespaces); run the suite as root';

/** describe() for root-only suites: skipped with a reason locally, failing in CI. */
export function describeRoot(name: string, fn: () => void): void {
  if (isRoot) {
    describe(name, fn);
  } else if (inCi) {
    describe(name, () => {
      throw new Error(`${name}: ${reason}; CI=true so this fails instead of skipping`);
    });
  } else {
    describe.skip(`${name} [skipped: ${reason}]`, fn);
  }
}
