import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';
import OpenAI from 'openai';
import { createServer } from 'node:net';
import { once } from 'node:events';
import { startOpenAIFake, type OpenAIFake } from '#test/fakes/openai-fake.ts';
import { backend, startWith, waitFor, type Started } from './harness.ts';

let a: OpenAIFake;
let b: OpenAIFake;
const running: Started[] = [];

async function start(...args: Parameters<typeof startWith>): Promise<Started> {
  const s = await startWith(...args);
  running.push(s);
  return s;
}

async function closedPortURL(): Promise<string> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  await new Promise((r) => server.close(r));
  return `http://127.0.0.1:${port}/v1`;
}

const ask = (s: Started, stream = false) =>
  stream
    ? s.client.chat.completions.create({ model: 'chat', stream: true, messages: [{ role: 'user', content: 'hi' }] })
    : s.client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] }).withResponse();

beforeEach(async () => {
  a = await startOpenAIFake();
  b = await startOpenAIFake({ content: 'from b' });
});
afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.close()));
  await a.close();
  await b.close();
});

const route = (extra: Record<string, unknown> = {}) => ({ name: 'shop/chat', models: ['chat'], backends: [backend('a', a.baseURL), backend('b', b.baseURL)], retries: { attempts: 0, backoffMs: 1, maxBackoffMs: 50 }, ...extra });

describe('failover', () => {
  test.each([408, 409, 429, 500, 502, 503, 529])('an upstream %i fails over to the next backend', async (status) => {
    a.queue({ status });
    const s = await start([route()]);
    const { data, response } = (await ask(s)) as { data: OpenAI.ChatCompletion; response: Response };
    expect(data.choices[0]!.message.content).toBe('from b');
    expect(response.headers.get('x-llmroute-backend')).toBe('b');
    expect(response.headers.get('x-llmroute-attempts')).toBe('2');
  });

  // A 422 is a provider's validation refusal: to an OpenAI client, a 400.
  test.each([[400, 400], [422, 400]])('an upstream %i is the answer (%i): no failover, the body passes through', async (status, shown) => {
    a.queue({ status, body: { error: { message: 'bad tool schema', type: 'invalid_request_error', param: 'tools', code: 'invalid_tools' } } });
    const s = await start([route()]);
    const error = (await ask(s).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(error.status).toBe(shown);
    expect(error.code).toBe('invalid_tools');
    expect(b.requests).toHaveLength(0);
  });

  test("an upstream answer carrying one of the sidecar's own codes does not make the SDK retry", async () => {
    a.queue({ status: 400, body: { error: { message: 'no', type: 'invalid_request_error', param: null, code: 'overloaded' } } });
    const s = await start([route()]);
    const error = (await ask(s).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(error.code).toBe('overloaded');
    expect(error.headers?.get('x-should-retry')).toBe('false');
  });

  // Refusals about the backend itself (its key, billing, model): nothing was processed, another backend may answer.
  const backendRefusals: Array<[string, { status: number; body: unknown }]> = [
    ['401 (revoked key)', { status: 401, body: { error: { message: 'Incorrect API key provided', type: 'invalid_request_error', param: null, code: 'invalid_api_key' } } }],
    ['403 (region)', { status: 403, body: { error: { message: 'Country, region, or territory not supported', type: 'request_forbidden', param: null, code: 'unsupported_country_region_territory' } } }],
    ['402 (balance)', { status: 402, body: { error: { message: 'Insufficient Balance', type: 'unknown_error', param: null, code: 'invalid_request_error' } } }],
    ['404 (model)', { status: 404, body: { error: { message: 'The model `gpt-9` does not exist or you do not have access to it.', type: 'invalid_request_error', param: null, code: 'model_not_found' } } }],
    ['429 insufficient_quota', { status: 429, body: { error: { message: 'You exceeded your current quota', type: 'insufficient_quota', param: null, code: 'insufficient_quota' } } }],
  ];

  test.each(backendRefusals)('a backend refusing service itself, %s, fails over and is not retried', async (_name, answer) => {
    a.setDefault(answer);
    const s = await start([route({ retries: { attempts: 2, backoffMs: 1, maxBackoffMs: 5 } })]);
    const { data, response } = (await ask(s)) as { data: OpenAI.ChatCompletion; response: Response };
    expect(data.choices[0]!.message.content).toBe('from b');
    expect(response.headers.get('x-llmroute-backend')).toBe('b');
    expect(response.headers.get('x-llmroute-attempts')).toBe('2');
    expect(a.requests).toHaveLength(1);
  });

  test('on a one-backend route the refusal is the answer: 404 passes through, not retried', async () => {
    a.setDefault(backendRefusals[3]![1]);
    const s = await start([{ name: 'r', models: ['chat'], backends: [backend('a', a.baseURL)], retries: { attempts: 2, backoffMs: 1, maxBackoffMs: 5 } }]);
    const error = (await ask(s).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(error.status).toBe(404);
    expect(error.code).toBe('model_not_found');
    expect(a.requests).toHaveLength(1);
  });

  test('an upstream 401 is reported as the proxy credentials being refused, not the app key', async () => {
    a.queue({ status: 401 });
    const s = await start([{ name: 'r', models: ['chat'], backends: [backend('a', a.baseURL)] }]);
    const error = (await ask(s).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(error.status).toBe(502);
    expect(error.code).toBe('upstream_unauthorized');
  });

  test('when every backend refuses service the client gets 502 with each refusal', async () => {
    a.setDefault(backendRefusals[0]![1]);
    b.setDefault(backendRefusals[4]![1]);
    const s = await start([route()]);
    const error = (await ask(s).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(error.status).toBe(502);
    expect(error.code).toBe('all_backends_failed');
    expect(error.message).toContain('a: 401 unauthorized; b: 429 quota_exceeded');
  });

  test('a backend whose key was revoked is ejected: later requests go straight to the next one', async () => {
    a.setDefault(backendRefusals[0]![1]);
    const s = await start([route()], { breaker: { threshold: 3, baseEjectionMs: 60_000, maxEjectionMs: 60_000 } });
    for (let i = 0; i < 10; i++) await ask(s);
    expect(a.requests).toHaveLength(3);
    expect(b.requests).toHaveLength(10);
  });

  test('a connection error fails over', async () => {
    const s = await start([{ ...route(), backends: [backend('down', await closedPortURL()), backend('b', b.baseURL)] }]);
    const { response } = (await ask(s)) as { response: Response };
    expect(response.headers.get('x-llmroute-backend')).toBe('b');
  });

  test('no first token within the timeout fails over, and the slow upstream is aborted', async () => {
    a.queue({ delayFirstTokenMs: 3000 });
    const s = await start([{ ...route(), backends: [backend('a', a.baseURL, { timeouts: { firstTokenMs: 200 } }), backend('b', b.baseURL)] }]);
    let text = '';
    for await (const chunk of (await ask(s, true)) as AsyncIterable<OpenAI.ChatCompletionChunk>) text += chunk.choices[0]?.delta.content ?? '';
    expect(text).toBe('from b');
    await waitFor(() => a.aborted === 1);
  });

  test('when every backend fails the client gets a 502 with a per-attempt summary and x-should-retry false', async () => {
    a.setDefault({ status: 503 });
    b.setDefault({ status: 500 });
    const s = await start([route()]);
    const error = (await ask(s).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(error.status).toBe(502);
    expect(error.code).toBe('all_backends_failed');
    expect(error.message).toContain('a: 503 overloaded; b: 500 server_error');
    expect(error.headers?.get('x-should-retry')).toBe('false');
  });

  test('a retry waits for a retry-after within the cap and then succeeds on the same backend', async () => {
    a.queue({ status: 429, headers: { 'retry-after-ms': '30' } });
    const s = await start([{ name: 'r', models: ['chat'], backends: [backend('a', a.baseURL)], retries: { attempts: 1, backoffMs: 1, maxBackoffMs: 1000 } }]);
    const { response } = (await ask(s)) as { response: Response };
    expect(response.headers.get('x-llmroute-attempts')).toBe('2');
    expect(a.requests).toHaveLength(2);
  });

  test('a retry-after beyond the cap is not waited for: the client gets 429 with retry-after', async () => {
    a.setDefault({ status: 429, headers: { 'retry-after': '120' } });
    const s = await start([{ name: 'r', models: ['chat'], backends: [backend('a', a.baseURL)], retries: { attempts: 2, backoffMs: 1, maxBackoffMs: 1000 } }]);
    const error = (await ask(s).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(error.status).toBe(429);
    expect(error.headers?.get('retry-after')).toBe('120');
    expect(a.requests).toHaveLength(1);
  });

  test('weighted routing spreads requests by weight', async () => {
    const s = await start([{ name: 'r', models: ['chat'], strategy: 'weighted', backends: [backend('a', a.baseURL, { weight: 3 }), backend('b', b.baseURL, { weight: 1 })] }]);
    for (let i = 0; i < 200; i++) await ask(s);
    // Expected 150/50; the bounds are about 4 standard deviations wide.
    expect(a.requests.length).toBeGreaterThan(125);
    expect(a.requests.length).toBeLessThan(175);
    expect(a.requests.length + b.requests.length).toBe(200);
  });

  test('the retry budget keeps a total outage from multiplying upstream traffic', async () => {
    a.setDefault({ status: 503 });
    const s = await start([{ name: 'r', models: ['chat'], backends: [backend('a', a.baseURL)], retries: { attempts: 3, backoffMs: 1, maxBackoffMs: 5 } }], {
      breaker: { threshold: 1_000_000, baseEjectionMs: 1, maxEjectionMs: 1 },
    });
    for (let i = 0; i < 100; i++) await ask(s).catch(() => undefined);
    // Without a budget this would be 400 attempts; with it: 100 + 20% + the initial reserve of 10.
    expect(a.requests.length).toBeLessThanOrEqual(100 + 20 + 10);
    expect(a.requests.length).toBeGreaterThanOrEqual(100);
  });

  test('a backend that keeps failing is ejected and skipped while ejected', async () => {
    a.setDefault({ status: 503 });
    const s = await start([route()], { breaker: { threshold: 3, baseEjectionMs: 60_000, maxEjectionMs: 60_000 } });
    for (let i = 0; i < 10; i++) await ask(s);
    expect(a.requests).toHaveLength(3);
    expect(b.requests).toHaveLength(10);
  });

  test('a redirect is never followed: the next backend answers, the Location is never called', async () => {
    const elsewhere = await startOpenAIFake({ content: 'from the Location' });
    try {
      a.setDefault({ status: 302, headers: { location: `${elsewhere.baseURL}/chat/completions` }, body: {} });
      const s = await start([route()]);
      const { data } = (await ask(s)) as { data: OpenAI.ChatCompletion };
      expect(data.choices[0]!.message.content).toBe('from b');
      const alone = await start([{ name: 'r', models: ['chat'], backends: [backend('a', a.baseURL)] }]);
      const error = (await ask(alone).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
      expect(error.status).toBe(502);
      expect(error.code).toBe('upstream_redirect');
      expect(elsewhere.requests).toHaveLength(0);
    } finally {
      await elsewhere.close();
    }
  });

  test.each([429, 503])('a backend that answered %i with Retry-After gets no first attempts until then', async (status) => {
    a.queue({ status, headers: { 'retry-after': '30' } });
    const s = await start([route()]);
    for (let i = 0; i < 4; i++) {
      const { data } = (await ask(s)) as { data: OpenAI.ChatCompletion };
      expect(data.choices[0]!.message.content).toBe('from b');
    }
    expect(a.requests).toHaveLength(1); // only the request that was told to wait
    expect(b.requests).toHaveLength(4);
  });

  test('the connect timeout covers the TLS handshake: a peer that accepts and never answers it fails over', async () => {
    const silent = createServer((socket) => socket.on('error', () => undefined)).listen(0, '127.0.0.1'); // takes the ClientHello, says nothing
    await once(silent, 'listening');
    try {
      const port = (silent.address() as { port: number }).port;
      const tls = backend('tls', `https://127.0.0.1:${port}/v1`, { timeouts: { connectMs: 200, totalMs: 20_000 } });
      const s = await start([route({ backends: [tls] })]);
      const error = (await ask(s).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
      // Cut by the connect timeout (connect_timeout, 502), not by the total timeout (504).
      expect(error.status).toBe(502);
      expect(error.message).toContain('tls: 502 connect_timeout');
    } finally {
      silent.close();
    }
  });

  test('a busy backend skipped in order does not make another one be tried twice (retries: 0)', async () => {
    const c = await startOpenAIFake({ content: 'from c' });
    try {
      const three = route({ backends: [backend('a', a.baseURL), backend('b', b.baseURL), backend('c', c.baseURL)] });
      b.queue({ status: 429, headers: { 'retry-after': '30' } });
      a.queue({ status: 500 }); // the first request: a fails, b answers 429 and is busy for 30 s, c answers
      const s = await start([three]);
      await ask(s);
      a.queue({ status: 500 });
      c.queue({ status: 500 });
      const error = (await ask(s).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
      expect(error.status).toBe(502);
      expect(error.message).toMatch(/a: 500 .*; c: 500 /);
      expect(c.requests).toHaveLength(2); // once per request
      expect(a.requests).toHaveLength(2);
      expect(b.requests).toHaveLength(1); // busy: skipped
    } finally {
      await c.close();
    }
  });
});

describe('a backend whose API cannot express the request', () => {
  // Anthropic has no `n`: its adapter refuses the translation, so that backend is skipped, not sent to.
  const claude = (baseURL: string) => backend('claude', baseURL, { provider: 'anthropic', model: 'claude-sonnet-4-5' });
  const askTwo = (s: Started) => s.client.chat.completions.create({ model: 'chat', n: 2, messages: [{ role: 'user', content: 'hi' }] }).withResponse();

  test('is skipped without an attempt: the next backend answers', async () => {
    const s = await start([route({ backends: [claude(await closedPortURL()), backend('b', b.baseURL)] })]);
    const { data, response } = await askTwo(s);
    expect(data.choices[0]!.message.content).toBe('from b');
    expect(response.headers.get('x-llmroute-backend')).toBe('b');
    expect(response.headers.get('x-llmroute-attempts')).toBe('1');
  });

  test('after a failed attempt elsewhere, the answer is the failure, not a 400 about that backend', async () => {
    a.queue({ status: 503 });
    const s = await start([route({ backends: [backend('a', a.baseURL), claude(await closedPortURL())] })]);
    const error = (await askTwo(s).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(error.status).toBe(502);
    expect(error.code).toBe('all_backends_failed');
    expect(error.message).toContain('a: 503');
    expect(error.message).toContain('claude: unsupported_parameter');
    expect(error.headers?.get('x-llmroute-attempts')).toBe('1');
  });

  test('when no backend can express it, the request is refused with the first reason (400)', async () => {
    const s = await start([route({ backends: [claude(await closedPortURL())] })]);
    const error = (await askTwo(s).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(error.status).toBe(400);
    expect(error.code).toBe('unsupported_parameter');
    expect(error.param).toBe('n');
  });
});

describe('one commit point for streams', () => {
  test('an upstream that dies mid-stream ends the client stream with an error and is not retried', async () => {
    // The pause lets the first words reach the client (the commit point) before the upstream dies.
    a.queue({ content: 'one two three four', dieAfterEvents: 2, delayBetweenMs: 100 });
    const s = await start([route({ retries: { attempts: 2, backoffMs: 1, maxBackoffMs: 5 } })]);
    let text = '';
    const error = await (async () => {
      for await (const chunk of (await ask(s, true)) as AsyncIterable<OpenAI.ChatCompletionChunk>) text += chunk.choices[0]?.delta.content ?? '';
    })().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.APIError);
    expect(text.startsWith('one ')).toBe(true);
    expect(text).not.toContain('three');
    expect(a.requests).toHaveLength(1);
    expect(b.requests).toHaveLength(0);
  });

  test('an error event mid-stream reaches the client as an error', async () => {
    a.queue({ content: 'one two', midStreamError: true });
    const s = await start([route()]);
    const error = await (async () => {
      for await (const _ of (await ask(s, true)) as AsyncIterable<OpenAI.ChatCompletionChunk>) void _;
    })().catch((e: unknown) => e);
    expect((error as Error).message).toContain('the model crashed');
  });

  test('malformed SSE ends the stream with an error rather than silence', async () => {
    a.queue({ content: 'one two', malformed: true });
    const s = await start([route()]);
    const error = await (async () => {
      for await (const _ of (await ask(s, true)) as AsyncIterable<OpenAI.ChatCompletionChunk>) void _;
    })().catch((e: unknown) => e);
    expect((error as Error).message).toContain('not JSON');
  });

  test('a failure before the first token still fails over for streams', async () => {
    a.queue({ status: 503 });
    const s = await start([route()]);
    let text = '';
    for await (const chunk of (await ask(s, true)) as AsyncIterable<OpenAI.ChatCompletionChunk>) text += chunk.choices[0]?.delta.content ?? '';
    expect(text).toBe('from b');
  });
});

describe('client disconnects cancel the upstream call', () => {
  test.each([
    ['waiting for headers', { delayHeadersMs: 5000 }, true],
    ['waiting for the first token', { delayFirstTokenMs: 5000 }, true],
    ['mid-stream', { content: 'a b c d e f g h i j k l m n o p', delayBetweenMs: 200 }, true],
    ['non-streaming', { delayHeadersMs: 5000 }, false],
  ])('%s', async (_name, behavior, stream) => {
    a.setDefault(behavior);
    const s = await start([route()]);
    const controller = new AbortController();
    const request = stream
      ? s.client.chat.completions.create({ model: 'chat', stream: true, messages: [{ role: 'user', content: 'hi' }] }, { signal: controller.signal }).then(async (st) => {
          for await (const _ of st) controller.abort();
        })
      : s.client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] }, { signal: controller.signal });
    await waitFor(() => a.requests.length === 1);
    if (!('content' in behavior)) setTimeout(() => controller.abort(), 50);
    await request.catch(() => undefined);
    await waitFor(() => a.aborted === 1);
    expect(b.requests).toHaveLength(0);
  });
});
