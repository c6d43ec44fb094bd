// Taking ownership of a raw descriptor: check what it is and read its info, closing it if
// either fails, so a descriptor handed to a constructor is never leaked.
import { BpfError, call } from './errors.js';
import { native, type NativeFd } from './native.js';

export function adoptFd<I>(fd: NativeFd, kind: 'map' | 'prog' | 'link', owner: string, readInfo: (fd: NativeFd) => I): I {
  try {
    const actual = call(() => native().fdKind(fd));
    if (actual !== kind) throw new BpfError(owner, 22, 'EINVAL', `descriptor is a ${actual}, not a ${kind === 'prog' ? 'program' : kind}`);
    return call(() => readInfo(fd));
  } catch (e) {
    fd.close();
    throw e;
  }
}
