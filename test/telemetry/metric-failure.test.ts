// A metric update runs after the answer was written (observer.ts defers it), where an exception would
// reach no handler but the process's. An upstream that reports an absurd token count (prompt_tokens
// 1e308: finite, so it is kept) made the cost Infinity, which prom-client refuses with a throw: the
// whole sidecar died on one upstream answer. The real sidecar process is driven here, as deployed.
import { afterAll, describe, expect, test } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '#test/free-port.ts';
import { serializeConfig } from '#proxy/config/parse.ts';
import { CONFIG_API_VERSION, CONFIG_KIND } from '#proxy/config/schema.ts';

const bin = new URL('../../bin/llmroute.js', import.meta.url).pathname;

let child: ChildProcess | undefined;
let upstream: Server | undefined;
afterAll(() => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
  upstream?.closeAllConnections();
  upstream?.close();
});

describe('metric updates after the answer', () => {
  test('an upstream answer whose cost overflows does not take the sidecar down', async () => {
    upstream = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({
          id: 'chatcmpl-1', object: 'chat.completion', created: 1, model: 'gpt-4o-mini',
          choices: [{ index: 0, message: { role: 'assistant', content: 'hi' }, finish_reason: 'stop' }],
          usage: { prompt_tokens: 1e308, completion_tokens: 1, total_tokens: 1e308 },
        }));
      });
    });
    upstream.listen(0, '127.0.0.1');
    await once(upstream, 'listening');
    const baseURL = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/v1`;
    const config = join(await mkdtemp(join(tmpdir(), 'llmroute-metrics-')), 'config.yaml');
    await writeFile(config, serializeConfig({
      apiVersion: CONFIG_API_VERSION, kind: CONFIG_KIND,
      routes: [{ name: 'r', models: ['r'], backends: [{ name: 'b', provider: 'openai', model: 'gpt-4o-mini', baseURL, credentials: { kind: 'none' } }] }],
    }));
    const llmPort = await freePort();
    const adminPort = await freePort();
    let stderr = '';
    child = spawn(process.execPath, [bin, 'proxy', '--config', config, '--port', String(llmPort), '--admin-port', String(adminPort)], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, LLMROUTE_LOG_LEVEL: 'error' } });
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const deadline = Date.now() + 20_000;
    while (!(await fetch(`http://127.0.0.1:${adminPort}/readyz`).then((r) => r.ok, () => false))) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`the sidecar did not become ready: ${stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }

    const ask = () =>
      fetch(`http://127.0.0.1:${llmPort}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'r', messages: [{ role: 'user', content: 'hi' }] }),
      }).then((r) => r.status, (err: Error) => `fetch failed: ${err.message}`);

    expect(await ask()).toBe(200); // answered, unpriced
    await new Promise((r) => setTimeout(r, 200));
    expect(await ask()).toBe(200);
    expect({ exitCode: child.exitCode, stderr }).toEqual({ exitCode: null, stderr: expect.not.stringContaining('TypeError') });
  }, 30_000);
});
