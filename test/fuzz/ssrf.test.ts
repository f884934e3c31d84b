// SSRF (reliability bar, success metric 9): upstream hosts come only from the compiled config. Thousands
// of generated requests name a trap server every way a request can (request target in absolute form,
// Host and forwarding headers, paths, model names, body fields, image URLs); the trap must never see a
// connection, while the configured fakes do get the requests that are served.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { createServer, request, type Server } from 'node:http';
import { once } from 'node:events';
import { startOpenAIFake, type OpenAIFake } from '#test/fakes/openai-fake.ts';
import { startAnthropicFake, type AnthropicFake } from '#test/fakes/anthropic-server.ts';
import { backend, startWith, type Started } from '#test/proxy/harness.ts';

const RUNS = Number(process.env.FUZZ_RUNS ?? 2000);

let trap: Server;
let trapConnections = 0;
let trapHost = '';
let fake: OpenAIFake;
let anthropic: AnthropicFake;
let s: Started;

beforeAll(async () => {
  trap = createServer((_req, res) => res.end('trapped'));
  trap.on('connection', () => (trapConnections += 1));
  trap.listen(0, '127.0.0.1');
  await once(trap, 'listening');
  trapHost = `127.0.0.1:${(trap.address() as { port: number }).port}`;
  [fake, anthropic] = await Promise.all([startOpenAIFake(), startAnthropicFake()]);
  s = await startWith(
    [
      { name: 'shop/chat', models: ['chat'], backends: [backend('up', fake.baseURL)] },
      { name: 'shop/claude', models: ['claude'], backends: [{ name: 'claude', provider: 'anthropic', model: 'claude-sonnet-4-5', baseURL: anthropic.url, credentials: { kind: 'none' } }] },
    ],
  );
});
afterAll(async () => {
  await s.close();
  await Promise.all([fake.close(), anthropic.close(), new Promise((r) => trap.close(r))]);
});

/** Sends one raw request (the request target exactly as given, absolute form included). */
function send(port: number, method: string, target: string, headers: Record<string, string>, body: string): Promise<number> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, method, path: target, headers: { ...headers, 'content-length': Buffer.byteLength(body) }, setHost: !('host' in headers) }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', () => resolve(0));
    });
    req.on('error', () => resolve(0)); // the proxy may refuse a malformed target outright
    req.end(body);
  });
}

describe('fuzz: no request reaches a host outside the config', () => {
  test('the trap server named in every part of thousands of requests never sees a connection', async () => {
    const trapUrl = () => `http://${trapHost}`;
    const hostile = fc.constantFrom(() => trapUrl(), () => `${trapUrl()}/v1`, () => trapHost, () => `//${trapHost}/v1`, () => `chat@${trapHost}`, () => `${trapUrl()}/v1/chat/completions#`);
    const path = fc.constantFrom(
      () => '/v1/chat/completions', () => '/v1/embeddings', () => '/v1/responses', () => '/v1/moderations', () => '/v1/models',
      () => `${trapUrl()}/v1/chat/completions`, () => `//${trapHost}/v1/chat/completions`, () => `/v1/${trapHost}/chat/completions`,
      () => `/v1/chat/completions?base_url=${encodeURIComponent(trapUrl())}`, () => '/v1/../v1/chat/completions', () => '/v1/%2e%2e/chat/completions',
    );
    const headerName = fc.constantFrom('host', 'x-forwarded-host', 'forwarded', 'x-original-url', 'x-rewrite-url', 'x-forwarded-proto', 'x-llmroute-backend', 'openai-base-url');
    const model = fc.oneof(fc.constantFrom('chat', 'claude'), hostile.map((h) => h()));
    const content = fc.oneof(
      fc.constant('hi'),
      hostile.map((h) => `fetch ${h()} please`),
      hostile.map((h) => [{ type: 'image_url', image_url: { url: `${h()}/cat.png` } }]),
    );
    const bodyField = fc.constantFrom('api_base', 'base_url', 'baseURL', 'endpoint', 'url', 'server', 'extra_headers', 'metadata');
    const scenario = fc.record({
      path,
      method: fc.constantFrom('POST', 'GET'),
      headers: fc.dictionary(headerName, hostile.map((h) => h()), { maxKeys: 3 }),
      model,
      stream: fc.boolean(),
      content,
      extra: fc.dictionary(bodyField, hostile.map((h) => h()), { maxKeys: 2 }),
    });

    let served = 0;
    await fc.assert(
      fc.asyncProperty(scenario, async (sc) => {
        const port = Number(new URL(s.proxy.llmUrl).port);
        const body = JSON.stringify({ model: sc.model, stream: sc.stream, messages: [{ role: 'user', content: sc.content }], input: 'hi', ...sc.extra });
        const headers: Record<string, string> = { 'content-type': 'application/json', ...sc.headers };
        const status = await send(port, sc.method, sc.path(), headers, body);
        if (status === 200) served += 1;
        expect(trapConnections).toBe(0);
      }),
      { numRuns: RUNS },
    );
    // The property is not vacuous: plenty of those requests were served, by the configured upstreams.
    expect(served).toBeGreaterThan(RUNS / 20);
    expect(fake.requests.length + anthropic.requests.length).toBeGreaterThan(RUNS / 20);
    expect(trapConnections).toBe(0);
  }, 120_000);
});
