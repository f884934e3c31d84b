import { describe, expect, test } from '@jest/globals';
import { mkdtemp, rename, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { watchFile } from '#proxy/runtime/config-watcher.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await sleep(10);
  }
}

describe('config file watcher', () => {
  test('other files changing in the directory do not reload; the config file and ConfigMap swaps do', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'llmroute-watch-'));
    const path = join(dir, 'config.yaml');
    await writeFile(path, 'first');
    let reloads = 0;
    // A long poll: only fs.watch events count here.
    const watcher = watchFile(path, () => reloads++, { debounceMs: 20, pollMs: 60_000 });
    try {
      for (let i = 0; i < 5; i++) {
        await writeFile(join(dir, 'proxy.log'), `line ${i}\n`, { flag: 'a' });
        await writeFile(join(dir, 'next.yaml.swp'), `edit ${i}`);
        await sleep(20);
      }
      await sleep(300); // several debounce periods: a reload would have run by now
      expect(reloads).toBe(0);

      await writeFile(join(dir, 'next.yaml'), 'second');
      await rename(join(dir, 'next.yaml'), path); // editors and kubectl cp replace by rename
      await waitFor(() => reloads === 1);

      await sleep(100);
      await writeFile(join(dir, '..data_tmp'), 'x'); // kubelet's atomic writer stages `..` entries
      await waitFor(() => reloads === 2);
    } finally {
      watcher.close();
    }
  });
});
