// The sidecar's idle memory depends on which parts of Node it wakes up. These stay asleep in a sidecar
// whose backends are plain HTTP, even after it has relayed a chat completion: Node's bundled undici
// (woken by an ESM import of node:http, ~13 MB), the TLS stack (node:https, ~9 MB: http-proxy and
// prom-client's index load it at import) and WebCrypto (an ESM import of node:crypto).
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { startOpenAIFake, type OpenAIFake } from '#test/fakes/openai-fake.ts';
import { configText, backend, waitFor } from '#test/proxy/harness.ts';
import { freePort } from '#test/free-port.ts';

const bin = new URL('../../bin/llmroute.js', import.meta.url).pathname;
// Preloaded into the sidecar: prints the built-in modules it has loaded, and the CommonJS files of
// packages (express is one), when asked (SIGUSR2).
const REPORTER =
  "process.on('SIGUSR2', () => process.stderr.write('LOADED ' + JSON.stringify(process.moduleLoadList) + '\\nPACKAGES ' + JSON.stringify(Object.keys(process.getBuiltinModule('module')._cache)) + '\\n'));";

describe('sidecar footprint', () => {
  let fake: OpenAIFake;
  let child: ChildProcess;
  let stderr = '';
  let llmPort = 0;
  let adminPort = 0;

  beforeAll(async () => {
    fake = await startOpenAIFake();
    const dir = await mkdtemp(join(tmpdir(), 'llmroute-footprint-'));
    const config = join(dir, 'config.yaml');
    await writeFile(config, configText([{ name: 'chat', models: ['chat'], backends: [backend('up', `${fake.url}/v1`)] }]));
    [llmPort, adminPort] = [await freePort(), await freePort()];
    child = spawn(process.execPath, ['--import', `data:text/javascript,${encodeURIComponent(REPORTER)}`, bin, 'proxy', '--config', config, '--port', String(llmPort), '--admin-port', String(adminPort)], {
      stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, LLMROUTE_LOG_LEVEL: 'warn' },
    });
    child.stderr!.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
    const deadline = Date.now() + 20_000;
    for (;;) {
      const ready = await fetch(`http://127.0.0.1:${adminPort}/readyz`).then((r) => r.ok, () => false);
      if (ready) break;
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`the sidecar did not become ready: ${stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }, 30_000);

  afterAll(async () => {
    child?.kill();
    await fake?.close();
  });

  test('relaying a completion to a plain-HTTP backend loads neither undici, TLS, WebCrypto nor express', async () => {
    const client = new OpenAI({ baseURL: `http://127.0.0.1:${llmPort}/v1`, apiKey: 'unused', maxRetries: 0 });
    const completion = await client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] });
    expect(completion.choices[0]!.message.content).toBeTruthy();
    await fetch(`http://127.0.0.1:${adminPort}/metrics`).then((r) => r.text());
    expect((await fetch(`http://127.0.0.1:${adminPort}/readyz`)).status).toBe(200);

    child.kill('SIGUSR2');
    await waitFor(() => stderr.includes('LOADED '), 10_000);
    const loaded: string[] = JSON.parse(stderr.slice(stderr.indexOf('LOADED ') + 7).split('\n')[0]!);
    expect(loaded).toContain('NativeModule http'); // the report is real: the sidecar did serve HTTP
    const unwanted = loaded.filter((m) => /^NativeModule (https|tls|internal\/deps\/undici\/undici|internal\/crypto\/webcrypto)$/.test(m));
    expect(unwanted).toEqual([]);
    // Probes, scrapes and completions need no router: express loads with the first other LLM request.
    const packages: string[] = JSON.parse(stderr.slice(stderr.indexOf('PACKAGES ') + 9).split('\n')[0]!);
    expect(packages.some((p) => p.includes('/node_modules/pino/'))).toBe(true); // the list is real
    expect(packages.filter((p) => p.includes('/node_modules/express/'))).toEqual([]);
  }, 30_000);
});
