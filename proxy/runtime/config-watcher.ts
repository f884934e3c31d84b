// Watches the config file and its directory. A ConfigMap volume updates by swapping the `..data`
// symlink in the directory, which a watch on the file alone misses; editors replace files by
// rename. A slow poll backs up fs.watch, whose events are not guaranteed on every file system.
// The directory may hold other files (a project directory under `llmroute dev`, a log written
// beside the config): their changes are not reloads.
import { watch, type FSWatcher } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename, dirname } from 'node:path';

export interface WatchHandle {
  close(): void;
}

export function watchFile(path: string, onChange: () => void, options: { debounceMs?: number; pollMs?: number } = {}): WatchHandle {
  const debounceMs = options.debounceMs ?? 100;
  let timer: NodeJS.Timeout | undefined;
  const trigger = () => {
    clearTimeout(timer);
    timer = setTimeout(onChange, debounceMs);
  };
  const watchers: FSWatcher[] = [];
  const name = basename(path);
  const concernsConfig = (filename: string | Buffer | null): boolean => filename === null || isConfigEntry(filename.toString(), name);
  for (const [target, listener] of [
    [dirname(path), (_event: string, filename: string | Buffer | null) => concernsConfig(filename) && trigger()],
    [path, trigger],
  ] as const) {
    try {
      const w = watch(target, listener);
      w.on('error', () => undefined);
      watchers.push(w);
    } catch {
      /* the file may not exist yet: the directory watch and the poll cover it */
    }
  }
  let lastSignature = '';
  const poll = setInterval(async () => {
    try {
      const s = await stat(path);
      const signature = `${s.mtimeMs}:${s.size}:${s.ino}`;
      if (lastSignature !== '' && signature !== lastSignature) trigger();
      lastSignature = signature;
    } catch {
      lastSignature = 'missing';
    }
  }, options.pollMs ?? 2000);
  poll.unref();
  return {
    close() {
      clearTimeout(timer);
      clearInterval(poll);
      for (const w of watchers) w.close();
    },
  };
}

/**
 * Whether a change to this directory entry may change the config: the file itself, or a `..`
 * entry of a ConfigMap volume (kubelet swaps the `..data` symlink to a new `..<timestamp>` directory).
 */
export function isConfigEntry(entry: string, configName: string): boolean {
  return entry === configName || entry.startsWith('..');
}
