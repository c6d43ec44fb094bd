// Watches the config file for changes. The directory is watched, not the file: editors (vim,
// sed -i, kubectl's configmap swaps) replace the file by renaming a new one over it, which ends
// a watch on the old inode. Events are debounced so a save that writes in several steps is
// read once, after it settled.
import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';

export interface ConfigWatcher {
  close(): void;
}

export function watchConfig(path: string, onChange: () => void, debounceMs = 250): ConfigWatcher {
  const dir = dirname(path);
  const name = basename(path);
  let timer: NodeJS.Timeout | undefined;
  const fire = (): void => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      onChange();
    }, debounceMs);
  };
  const w: FSWatcher = watch(dir, { persistent: false }, (_event, file) => {
    // Some platforms give no file name; then any change in the directory counts.
    if (file === null || file === name || file.toString() === name) fire();
  });
  w.on('error', () => {
    /* the directory went away; nothing left to watch */
  });
  return {
    close(): void {
      if (timer) clearTimeout(timer);
      w.close();
    },
  };
}
