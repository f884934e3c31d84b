// The admin port answers probes and scrapes without a router; the LLM port's other routes (GET
// /v1/models, 404s) go through express, loaded with the first of them.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { startOpenAIFake, type OpenAIFake } from '#test/fakes/openai-fake.ts';
import { backend, startWith, type Started } from './harness.ts';

let fake: OpenAIFake;
let s: Started;

beforeAll(async () => {
  fake = await startOpenAIFake();
  s = await startWith([{ name: 'shop/chat', models: ['chat', 'gpt-4o'], backends: [backend('up', fake.baseURL)] }], { metrics: async () => ({ contentType: 'text/plain; version=0.0.4', body: 'llmroute_up 1\n' }) });
});
afterAll(async () => {
  await s.close();
  await fake.close();
});

describe('admin port', () => {
  test('healthz, readyz (with the generation) and metrics; HEAD answers without a body', async () => {
    const health = await fetch(`${s.proxy.adminUrl}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok' });
    const ready = await fetch(`${s.proxy.adminUrl}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ready', generation: expect.stringMatching(/^sha256-/) });
    const metrics = await fetch(`${s.proxy.adminUrl}/metrics`);
    expect(metrics.headers.get('content-type')).toBe('text/plain; version=0.0.4');
    expect(metrics.headers.get('vary')).toBe('Accept');
    expect(await metrics.text()).toBe('llmroute_up 1\n');
    const head = await fetch(`${s.proxy.adminUrl}/healthz`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
  });

  test('other paths are 404 and other methods 405', async () => {
    expect((await fetch(`${s.proxy.adminUrl}/v1/models`)).status).toBe(404);
    expect((await fetch(`${s.proxy.adminUrl}/healthz`, { method: 'POST' })).status).toBe(405);
  });
});

describe('LLM port beyond the hot endpoints', () => {
  test('GET /v1/models (express, loaded on this first request) lists the route models; unknown paths are 404 unknown_url', async () => {
    const models = await s.client.models.list();
    expect(models.data.map((m) => m.id)).toEqual(['chat', 'gpt-4o']);
    const missing = await fetch(`${s.proxy.llmUrl}/v2/whatever`);
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: { code: string } }).error.code).toBe('unknown_url');
  });
});
