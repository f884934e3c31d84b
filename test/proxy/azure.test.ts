// Azure OpenAI's two APIs, with the official SDK's own requests as the yardstick: the dated API as
// `AzureOpenAI` sends it (deployment in the URL, `api-version` query), and the v1 API (GA August 2025)
// as Microsoft documents it, the plain `OpenAI` client on `{endpoint}/openai/v1` with the deployment
// as `model`. The proxy must reach the same URL with the same body model as those clients do.
import { afterAll, afterEach, beforeAll, describe, expect, test } from '@jest/globals';
import OpenAI, { AzureOpenAI } from 'openai';
import { compile } from '#operator/compile/compile.ts';
import { startOpenAIFake, type OpenAIFake } from '#test/fakes/openai-fake.ts';
import { startWith, type Started } from './harness.ts';

let fake: OpenAIFake;
const running: Started[] = [];
beforeAll(async () => {
  fake = await startOpenAIFake();
});
afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.close()));
  fake.requests.length = 0;
});
afterAll(async () => {
  await fake.close();
});

const KEY = 'az-secret-key';
const messages: OpenAI.ChatCompletionMessageParam[] = [{ role: 'user', content: 'hi' }];

async function viaProxy(options: Record<string, unknown>): Promise<OpenAI> {
  const s = await startWith(
    [{ name: 'r', models: ['chat'], backends: [{ name: 'az', provider: 'azure-openai', model: 'gpt-4o', baseURL: fake.url, credentials: { kind: 'env', name: 'AZ_KEY' }, options } as never] }],
    { env: { AZ_KEY: KEY } },
  );
  running.push(s);
  return s.client;
}

/** The one request the fake saw since the last call: where it went, with which model and key. */
function lastRequest() {
  const request = fake.requests.at(-1)!;
  fake.requests.length = 0;
  return { url: request.url, model: request.body.model as string, apiKey: request.headers['api-key'], body: request.body };
}

describe('Azure OpenAI, dated API (per-deployment URLs)', () => {
  test('chat and embeddings go where the official AzureOpenAI client sends them, with the api-key header', async () => {
    const sdk = new AzureOpenAI({ endpoint: fake.url, apiKey: KEY, apiVersion: '2024-10-21', deployment: 'prod-gpt4o', maxRetries: 0 });
    await sdk.chat.completions.create({ model: 'gpt-4o', messages });
    const bySdk = lastRequest();
    await sdk.embeddings.create({ model: 'gpt-4o', input: 'hi' });
    const embeddingsBySdk = lastRequest();

    const proxied = await viaProxy({ apiVersion: '2024-10-21', deployment: 'prod-gpt4o', deploymentType: 'standard' });
    await proxied.chat.completions.create({ model: 'chat', messages });
    const byProxy = lastRequest();
    await proxied.embeddings.create({ model: 'chat', input: 'hi' });
    const embeddingsByProxy = lastRequest();

    expect(byProxy.url).toBe(bySdk.url);
    expect(byProxy.url).toBe('/openai/deployments/prod-gpt4o/chat/completions?api-version=2024-10-21');
    expect(byProxy.apiKey).toBe(KEY);
    expect(embeddingsByProxy.url).toBe(embeddingsBySdk.url);
    expect(embeddingsByProxy.apiKey).toBe(KEY);
  });

  test('other endpoints are not forwarded: the dated API has no base URL they sit under', async () => {
    const proxied = await viaProxy({ apiVersion: '2024-10-21', deployment: 'prod-gpt4o' });
    const error = (await proxied.moderations.create({ model: 'chat', input: 'hi' }).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(error.status).toBe(400);
    expect(error.code).toBe('unsupported_operation');
    expect(error.message).toContain('azure-openai does with options.apiVersion v1');
    expect(fake.requests).toHaveLength(0);
  });
});

describe('Azure OpenAI, v1 API (apiVersion: v1)', () => {
  test("chat goes where Microsoft's documented v1 client sends it: /openai/v1, deployment as model, no api-version", async () => {
    const sdk = new OpenAI({ baseURL: `${fake.url}/openai/v1`, apiKey: KEY, maxRetries: 0 });
    await sdk.chat.completions.create({ model: 'prod-gpt4o', messages });
    const bySdk = lastRequest();

    const proxied = await viaProxy({ apiVersion: 'v1', deployment: 'prod-gpt4o' });
    const answer = await proxied.chat.completions.create({ model: 'chat', messages });
    const byProxy = lastRequest();

    expect(byProxy.url).toBe(bySdk.url);
    expect(byProxy.url).toBe('/openai/v1/chat/completions');
    expect(byProxy.model).toBe(bySdk.model);
    expect(byProxy.apiKey).toBe(KEY);
    expect(answer.choices[0]!.message.content).toBe('Hello there, friend.');
  });

  test('the deployment defaults to the backend model; streams ask for usage (v1 accepts stream_options)', async () => {
    const proxied = await viaProxy({ apiVersion: 'v1' });
    const stream = await proxied.chat.completions.create({ model: 'chat', stream: true, messages });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    const sent = lastRequest();
    expect(text).toBe('Hello there, friend.');
    expect(sent.url).toBe('/openai/v1/chat/completions');
    expect(sent.model).toBe('gpt-4o');
    expect(sent.body.stream_options).toEqual({ include_usage: true });
  });

  test('embeddings and forwarded endpoints sit under /openai/v1 with the deployment as model', async () => {
    const sdk = new OpenAI({ baseURL: `${fake.url}/openai/v1`, apiKey: KEY, maxRetries: 0 });
    await sdk.embeddings.create({ model: 'prod-embed', input: 'hi' });
    const embeddingsBySdk = lastRequest();
    await sdk.moderations.create({ model: 'prod-embed', input: 'hi' });
    const moderationsBySdk = lastRequest();

    const proxied = await viaProxy({ apiVersion: 'v1', deployment: 'prod-embed' });
    await proxied.embeddings.create({ model: 'chat', input: 'hi' });
    const embeddingsByProxy = lastRequest();
    await proxied.moderations.create({ model: 'chat', input: 'hi' });
    const moderationsByProxy = lastRequest();

    expect(embeddingsByProxy).toMatchObject({ url: embeddingsBySdk.url, model: 'prod-embed', apiKey: KEY });
    expect(moderationsByProxy).toMatchObject({ url: moderationsBySdk.url, model: 'prod-embed', apiKey: KEY });
    expect(moderationsByProxy.url).toBe('/openai/v1/moderations');
  });
});

describe('Azure apiVersion validation', () => {
  const route = (apiVersion: string) => ({
    apiVersion: 'llmroute.dev/v1alpha1', kind: 'LLMRoute', metadata: { name: 'chat', namespace: 'shop', generation: 1 },
    spec: { models: ['chat'], backends: [{ name: 'az', provider: 'azure-openai', model: 'gpt-4o', baseURL: 'https://shop.openai.azure.com', credentials: { env: 'AZ_KEY' }, options: { apiVersion } }] },
  });

  test.each(['v1', '2024-10-21', '2025-04-01-preview'])('%s is accepted', (apiVersion) => {
    expect(compile([route(apiVersion)], []).config.routes[0]!.backends).toHaveLength(1);
  });

  test.each(['v2', 'V1', '2024-10', 'latest'])('%s is refused with what it must be', (apiVersion) => {
    const result = compile([route(apiVersion)], []);
    expect(result.config.routes).toHaveLength(0);
    expect(JSON.stringify(result.routes[0]!.issues)).toContain('must be v1 or a date like 2024-10-21');
  });
});

describe('Azure baseURL', () => {
  const route = (baseURL: string, apiVersion = 'v1') => ({
    apiVersion: 'llmroute.dev/v1alpha1', kind: 'LLMRoute', metadata: { name: 'chat', namespace: 'shop', generation: 1 },
    spec: { models: ['chat'], backends: [{ name: 'az', provider: 'azure-openai', model: 'gpt-4o', baseURL, credentials: { env: 'AZ_KEY' }, options: { apiVersion } }] },
  });

  // The SDK's and Microsoft's samples put /openai or /openai/v1 in their base URL; the adapter adds
  // that path itself, so a copied one would be doubled into a 404.
  test.each([
    ['https://shop.openai.azure.com/openai/v1', 'v1'],
    ['https://shop.openai.azure.com/openai/v1/', 'v1'],
    ['https://shop.openai.azure.com/openai', '2024-10-21'],
    ['https://shop.services.ai.azure.com/openai/deployments/gpt-4o', '2024-10-21'],
  ])('%s is refused, saying what to write', (baseURL, apiVersion) => {
    const result = compile([route(baseURL, apiVersion)], []);
    expect(result.config.routes).toHaveLength(0);
    expect(JSON.stringify(result.routes[0]!.issues)).toContain('an Azure OpenAI baseURL is the resource endpoint (https://<resource>.openai.azure.com) without a path');
  });

  test.each(['https://shop.openai.azure.com', 'https://shop.openai.azure.com/', 'https://gateway.corp.example/azure-shop', 'https://gateway.corp.example/openai-gw'])('%s is accepted', (baseURL) => {
    expect(compile([route(baseURL)], []).config.routes[0]!.backends).toHaveLength(1);
  });

  test('the proxy refuses such a config too (it keeps its last good one), rather than call a doubled path', async () => {
    const error = await startWith(
      [{ name: 'r', models: ['chat'], backends: [{ name: 'az', provider: 'azure-openai', model: 'gpt-4o', baseURL: `${fake.url}/openai/v1`, credentials: { kind: 'none' }, options: { apiVersion: 'v1' } } as never] }],
    ).then((s) => { running.push(s); return undefined; }, (e: unknown) => e as Error);
    expect(error?.message).toContain('routes[0].backends[0].baseURL');
    expect(fake.requests).toHaveLength(0);
  });
});
