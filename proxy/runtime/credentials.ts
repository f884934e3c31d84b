// API keys, read from where the config points: a mounted Secret file (re-read when it changes, so
// rotation needs no restart), an environment variable, or nothing. Values never leave this module
// except into the upstream request's auth header.
import { readFileSync, statSync } from 'node:fs';
import type { Credentials } from '../config/schema.ts';

export interface KeySource {
  /** The current key, or undefined (no credentials, or the file is missing/empty). */
  current(): string | undefined;
}

/** How often a key file's modification time is checked at most. */
const FILE_CHECK_INTERVAL_MS = 1000;

class FileKey implements KeySource {
  private value: string | undefined;
  /** Modification time, size and inode of the file last read: an in-place rewrite within one clock
   *  tick keeps the time but not the size, a Secret volume's swap changes the inode. */
  private signature = '';
  private checkedAt = 0;
  private readonly path: string;

  constructor(path: string) {
    this.path = path;
    this.refresh();
  }

  current(): string | undefined {
    const now = Date.now();
    if (now - this.checkedAt >= FILE_CHECK_INTERVAL_MS) this.refresh();
    return this.value;
  }

  private refresh(): void {
    this.checkedAt = Date.now();
    try {
      const stat = statSync(this.path);
      const signature = `${stat.mtimeMs}:${stat.size}:${stat.ino}`;
      if (signature === this.signature) return;
      this.signature = signature;
      const text = readFileSync(this.path, 'utf8').trim();
      this.value = text === '' ? undefined : text;
    } catch {
      this.value = undefined;
      this.signature = '';
    }
  }
}

export function keySource(credentials: Credentials, env: Readonly<Record<string, string | undefined>>): KeySource {
  switch (credentials.kind) {
    case 'file':
      return new FileKey(credentials.path);
    case 'env': {
      const value = env[credentials.name];
      return { current: () => value };
    }
    case 'none':
      return { current: () => undefined };
  }
}
