import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { mkdtemp, rename, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { startProxy, type RunningProxy } from '#proxy/server.ts';
import { startOpenAIFake, type OpenAIFake } from '#test/fakes/openai-fake.ts';
import { backend, configText } from './harness.ts';

let fake: OpenAIFake;
beforeAll(async () => {
  fake = await startOpenAIFake();
});
afterAll(async () => {
  await fake.close();
});

async function waitFor(condition: () => Promise<boolean> | boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}

const readyz = async (proxy: RunningProxy) => (await (await fetch(`${proxy.adminUrl}/readyz`)).json()) as { status: string; generation: string | null; lastRefusedConfig?: string };

describe('config hot reload', () => {
  test('a valid new config is swapped in; an invalid one is refused and the last good one stays', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'llmroute-reload-'));
    const path = join(dir, 'config.yaml');
    await writeFile(path, configText([{ name: 'r', models: ['first'], backends: [backend('a', fake.baseURL)] }]));
    const proxy = await startProxy({ configPath: path, port: 0, adminPort: 0, watchPollMs: 100 });
    const client = new OpenAI({ baseURL: `${proxy.llmUrl}/v1`, apiKey: 'x', maxRetries: 0 });
    try {
      const before = await readyz(proxy);
      expect(before.status).toBe('ready');
      expect((await client.models.list()).data.map((m) => m.id)).toEqual(['first']);

      // Atomic replace, as editors and kubelet do.
      await writeFile(join(dir, 'next.yaml'), configText([{ name: 'r', models: ['second'], backends: [backend('a', fake.baseURL)] }]));
      await rename(join(dir, 'next.yaml'), path);
      await waitFor(async () => (await readyz(proxy)).generation !== before.generation);
      expect((await client.models.list()).data.map((m) => m.id)).toEqual(['second']);
      const good = await readyz(proxy);

      await writeFile(path, 'apiVersion: config.llmroute.dev/v1alpha1\nkind: ProxyConfig\nroutes: [{name: r, models: [], backends: []}]\n');
      await waitFor(async () => (await readyz(proxy)).lastRefusedConfig !== undefined);
      const after = await readyz(proxy);
      expect(after.generation).toBe(good.generation);
      expect(after.lastRefusedConfig).toContain('routes[0].models');
      const answer = await client.chat.completions.create({ model: 'second', messages: [{ role: 'user', content: 'still there?' }] });
      expect(answer.choices[0]!.message.content).toBe('Hello there, friend.');
    } finally {
      await proxy.close();
    }
  });

  test('a ConfigMap-style ..data symlink swap is picked up', async () => {
    const { symlink, mkdir } = await import('node:fs/promises');
    const dir = await mkdtemp(join(tmpdir(), 'llmroute-cm-'));
    const v1 = join(dir, '..2026_v1');
    const v2 = join(dir, '..2026_v2');
    await mkdir(v1);
    await mkdir(v2);
    await writeFile(join(v1, 'config.yaml'), configText([{ name: 'r', models: ['one'], backends: [backend('a', fake.baseURL)] }]));
    await writeFile(join(v2, 'config.yaml'), configText([{ name: 'r', models: ['two'], backends: [backend('a', fake.baseURL)] }]));
    await symlink('..2026_v1', join(dir, '..data'));
    await symlink('..data/config.yaml', join(dir, 'config.yaml'));
    const proxy = await startProxy({ configPath: join(dir, 'config.yaml'), port: 0, adminPort: 0, watchPollMs: 100 });
    try {
      const first = await readyz(proxy);
      await symlink('..2026_v2', join(dir, '..data_tmp'));
      await rename(join(dir, '..data_tmp'), join(dir, '..data'));
      await waitFor(async () => (await readyz(proxy)).generation !== first.generation);
      expect(proxy.store.runtime()!.models).toEqual(['two']);
    } finally {
      await proxy.close();
    }
  });

  test('without a readable config the proxy is not ready and answers 503', async () => {
    const proxy = await startProxy({ configPath: '/nonexistent/config.yaml', port: 0, adminPort: 0 });
    try {
      const res = await fetch(`${proxy.adminUrl}/readyz`);
      expect(res.status).toBe(503);
      const chat = await fetch(`${proxy.llmUrl}/v1/chat/completions`, { method: 'POST', body: '{}' });
      expect(chat.status).toBe(503);
      expect(((await chat.json()) as { error: { code: string } }).error.code).toBe('config_not_loaded');
      expect((await fetch(`${proxy.adminUrl}/healthz`)).status).toBe(200);
    } finally {
      await proxy.close();
    }
  });
});

describe('config swap with open streams (A10, B20)', () => {
  test('an open stream finishes on the config it started with; requests after the swap use the new one', async () => {
    const other = await startOpenAIFake({ content: 'from the new backend' });
    const dir = await mkdtemp(join(tmpdir(), 'llmroute-swap-'));
    const path = join(dir, 'config.yaml');
    await writeFile(path, configText([{ name: 'r', models: ['chat'], backends: [backend('old', fake.baseURL)] }]));
    const proxy = await startProxy({ configPath: path, port: 0, adminPort: 0, watchPollMs: 50 });
    const client = new OpenAI({ baseURL: `${proxy.llmUrl}/v1`, apiKey: 'x', maxRetries: 0 });
    try {
      fake.queue({ content: 'one two three four five six', delayBetweenMs: 80 });
      const stream = await client.chat.completions.create({ model: 'chat', stream: true, messages: [{ role: 'user', content: 'hi' }] });
      const iterator = stream[Symbol.asyncIterator]();
      let text = '';
      const first = await iterator.next(); // the stream is open and committed to the old backend
      text += first.value?.choices[0]?.delta.content ?? '';

      const before = (await readyz(proxy)).generation;
      await writeFile(`${path}.tmp`, configText([{ name: 'r', models: ['chat'], backends: [backend('new', other.baseURL)] }]));
      await rename(`${path}.tmp`, path);
      await waitFor(async () => (await readyz(proxy)).generation !== before);
      const after = await client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] }).withResponse();
      expect(after.response.headers.get('x-llmroute-backend')).toBe('new');

      for (let r = await iterator.next(); !r.done; r = await iterator.next()) text += r.value.choices[0]?.delta.content ?? '';
      expect(text).toBe('one two three four five six');
      expect(other.requests).toHaveLength(1);
    } finally {
      await proxy.close();
      await other.close();
    }
  });
});
