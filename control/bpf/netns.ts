// Runs synchronous code inside another network namespace (setns on the JS thread), so that
// interface names, ifindexes, XDP attach and query refer to that namespace. bpffs and every
// other mount stay the host's, unlike `ip netns exec`.
import { isAbsolute, join } from 'node:path';
import { call } from './errors.js';
import { k, native, type NativeFd } from './native.js';

/** Calls fn with the JS thread in netns (a name under /run/netns or a path), then switches back. */
export function withNetns<T>(netns: string, fn: () => T): T {
  const path = isAbsolute(netns) ? netns : join('/run/netns', netns);
  const target = call(() => native().openPath(path));
  try {
    return withNetnsFd(target, fn);
  } finally {
    target.close();
  }
}

/** @internal A descriptor of the calling thread's network namespace (caller closes it). */
export function currentNetns(): NativeFd {
  return call(() => native().openPath('/proc/thread-self/ns/net'));
}

/** @internal withNetns for an open namespace descriptor. */
export function withNetnsFd<T>(target: NativeFd, fn: () => T): T {
  const self = currentNetns();
  try {
    call(() => native().setns(target, k('CLONE_NEWNET')));
    try {
      const r = fn();
      if (r && typeof (r as { then?: unknown }).then === 'function') {
        throw new TypeError('withNetns: fn must be synchronous; awaited work would run in the wrong namespace');
      }
      return r;
    } finally {
      call(() => native().setns(self, k('CLONE_NEWNET')));
    }
  } finally {
    self.close();
  }
}
