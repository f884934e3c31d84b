// Key files re-read on change: a rotation that keeps the file's modification time (an in-place rewrite
// within one clock tick) is still seen, by its size.
import { describe, expect, test } from '@jest/globals';
import { mkdtemp, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { keySource } from '#proxy/runtime/credentials.ts';

describe('key file', () => {
  test('a rewrite that keeps the modification time is still picked up', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'llmroute-cred-'));
    const path = join(dir, 'apiKey');
    const tick = new Date('2026-01-01T00:00:00Z'); // one timestamp for both versions of the file
    await writeFile(path, 'sk-first\n');
    await utimes(path, tick, tick);
    const source = keySource({ kind: 'file', path }, {});
    expect(source.current()).toBe('sk-first');
    await writeFile(path, 'sk-second-longer\n');
    await utimes(path, tick, tick); // the same mtime, as within one timestamp tick
    await new Promise((r) => setTimeout(r, 1100)); // the file is checked at most once a second
    expect(source.current()).toBe('sk-second-longer');
  });
});
