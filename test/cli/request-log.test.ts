// The sidecar's stdout is written in batches (proxy/logger.ts), not with one write(2) per line. A user
// must still see each request's line soon after it happened, and every line must be out when the
// process stops.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { waitFor } from '#test/proxy/harness.ts';
import { freePort } from '#test/free-port.ts';
import { DEFAULT_CONFIG_TEXT } from '#proxy/default-config.ts';

const bin = new URL('../../bin/llmroute.js', import.meta.url).pathname;

const requestLines = (stdout: string): Array<Record<string, unknown>> =>
  stdout
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((entry) => entry.msg === 'request');

describe('request log lines on stdout', () => {
  let child: ChildProcess;
  let stdout = '';
  let stderr = '';
  let llmPort = 0;

  beforeAll(async () => {
    llmPort = await freePort();
    const adminPort = await freePort();
    // The embedded default config (offline echo provider), at the default log level.
    const env: NodeJS.ProcessEnv = { ...process.env };
    delete env.LLMROUTE_LOG_LEVEL;
    const config = join(await mkdtemp(join(tmpdir(), 'llmroute-log-')), 'config.yaml');
    await writeFile(config, DEFAULT_CONFIG_TEXT);
    child = spawn(process.execPath, [bin, 'proxy', '--config', config, '--port', String(llmPort), '--admin-port', String(adminPort)], { stdio: ['ignore', 'pipe', 'pipe'], env });
    child.stdout!.on('data', (chunk: Buffer) => { stdout += chunk.toString(); });
    child.stderr!.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
    const deadline = Date.now() + 20_000;
    while (!(await fetch(`http://127.0.0.1:${adminPort}/readyz`).then((r) => r.ok, () => false))) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`the sidecar did not become ready: ${stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }, 30_000);

  afterAll(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });

  test('a request line appears while the sidecar runs, and every line is out when it stops', async () => {
    const client = new OpenAI({ baseURL: `http://127.0.0.1:${llmPort}/v1`, apiKey: 'unused', maxRetries: 0 });
    await client.chat.completions.create({ model: 'demo', messages: [{ role: 'user', content: 'first' }] });
    // Far below the 4 KiB batch: only the periodic flush can bring this line out.
    await waitFor(() => requestLines(stdout).length === 1, 5_000);

    for (let i = 0; i < 5; i++) await client.chat.completions.create({ model: 'demo', messages: [{ role: 'user', content: `next ${i}` }] });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM'); // at once: the last lines are still in the buffer
    expect(await exited).toBe(0);

    const lines = requestLines(stdout);
    expect(lines).toHaveLength(6);
    expect(lines.every((line) => line.route === 'default/demo' && line.status === 200)).toBe(true);
  }, 30_000);
});
