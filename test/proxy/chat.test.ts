import { afterAll, afterEach, beforeAll, describe, expect, test } from '@jest/globals';
import { once } from 'node:events';
import { connect } from 'node:net';
import OpenAI from 'openai';
import { startOpenAIFake, type OpenAIFake } from '#test/fakes/openai-fake.ts';
import { backend, startWith, waitFor, type Started } from './harness.ts';

let fake: OpenAIFake;
let started: Started;

beforeAll(async () => {
  fake = await startOpenAIFake();
  started = await startWith([{ name: 'shop/chat', models: ['chat', 'gpt-4o'], backends: [backend('primary', fake.baseURL)] }]);
});
afterAll(async () => {
  await started.close();
  await fake.close();
});
afterEach(() => {
  fake.requests.length = 0;
});

describe('chat completions through the proxy with the official openai SDK', () => {
  test('a non-streaming completion comes back with the backend and attempt headers', async () => {
    const { data, response } = await started.client.chat.completions
      .create({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] })
      .withResponse();
    expect(data.choices[0]!.message.content).toBe('Hello there, friend.');
    expect(response.headers.get('x-llmroute-backend')).toBe('primary');
    expect(response.headers.get('x-llmroute-attempts')).toBe('1');
    expect(fake.requests[0]!.body.model).toBe('primary-model');
  });

  test('the client key never reaches the upstream', async () => {
    await started.client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] });
    expect(fake.requests[0]!.headers.authorization).toBeUndefined();
  });

  test('a stream arrives chunk by chunk and reassembles, without the usage chunk the client did not ask for', async () => {
    const stream = await started.client.chat.completions.create({ model: 'chat', stream: true, messages: [{ role: 'user', content: 'hi' }] });
    const parts: string[] = [];
    let sawUsage = false;
    for await (const chunk of stream) {
      if (chunk.usage) sawUsage = true;
      parts.push(chunk.choices[0]?.delta.content ?? '');
    }
    expect(parts.join('')).toBe('Hello there, friend.');
    expect(sawUsage).toBe(false);
    // The proxy asked the upstream for usage anyway (telemetry and cost need it).
    expect(fake.requests[0]!.body.stream_options).toEqual({ include_usage: true });
  });

  test('finished streams leave their upstream connection in the pool, even when the upstream is slow to close', async () => {
    for (let i = 0; i < 3; i++) {
      fake.queue({ delayEndMs: 30 });
      const stream = await started.client.chat.completions.create({ model: 'chat', stream: true, messages: [{ role: 'user', content: 'hi' }] });
      for await (const _ of stream);
      await new Promise((r) => setTimeout(r, 60)); // the proxy reads the upstream's end after [DONE]
    }
    expect(fake.requests).toHaveLength(3);
    expect(new Set(fake.requests.map((r) => r.remotePort)).size).toBe(1);
  });

  test('an upstream that never closes its body after [DONE] is cut after a bound, the client already served', async () => {
    fake.queue({ delayEndMs: 5000 });
    const abortedBefore = fake.aborted;
    const stream = await started.client.chat.completions.create({ model: 'chat', stream: true, messages: [{ role: 'user', content: 'hi' }] });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    expect(text).toBe('Hello there, friend.');
    expect(fake.aborted).toBe(abortedBefore); // still draining
    await waitFor(() => fake.aborted > abortedBefore, 3000);
  });

  test('a stream includes the usage chunk when the client asks for it', async () => {
    const stream = await started.client.chat.completions.create({ model: 'chat', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'hi' }] });
    let usage: OpenAI.CompletionUsage | undefined | null;
    for await (const chunk of stream) if (chunk.usage) usage = chunk.usage;
    expect(usage).toMatchObject({ prompt_tokens: 9, completion_tokens: 3 });
  });

  test('the SDK stream helper accumulates a final completion', async () => {
    const runner = started.client.chat.completions.stream({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] });
    const final = await runner.finalChatCompletion();
    expect(final.choices[0]!.message.content).toBe('Hello there, friend.');
    expect(final.choices[0]!.finish_reason).toBe('stop');
  });

  test('UTF-8 characters split across network chunks arrive intact', async () => {
    fake.queue({ content: 'héllo wörld 日本語 🎉 done', splitUtf8: true });
    const stream = await started.client.chat.completions.create({ model: 'chat', stream: true, messages: [{ role: 'user', content: 'hi' }] });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    expect(text).toBe('héllo wörld 日本語 🎉 done');
  });

  test('an unknown model is a 404 that lists the models served', async () => {
    const error = await started.client.chat.completions.create({ model: 'nope', messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.NotFoundError);
    const e = error as InstanceType<typeof OpenAI.NotFoundError>;
    expect(e.code).toBe('model_not_found');
    expect(e.message).toContain('models served: chat, gpt-4o');
    expect(fake.requests).toHaveLength(0);
  });

  test('the request id is honoured when safe and generated otherwise', async () => {
    const post = (id: string) =>
      fetch(`${started.proxy.llmUrl}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-request-id': id }, body: JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'x' }] }) });
    expect((await post('req-123')).headers.get('x-request-id')).toBe('req-123');
    const generated = (await post('bad id\twith spaces')).headers.get('x-request-id');
    expect(generated).toMatch(/^[0-9a-f-]{36}$/);
  });

  test.each([
    ['invalid JSON', '{"model":', 400, 'invalid_json'],
    ['missing messages', JSON.stringify({ model: 'chat' }), 400, 'invalid_request'],
    ['an unknown role', JSON.stringify({ model: 'chat', messages: [{ role: 'wizard', content: 'x' }] }), 400, 'invalid_request'],
    ['a non-object body', '[1,2]', 400, 'invalid_request'],
  ])('%s is refused with an OpenAI error body', async (_name, body, status, code) => {
    const res = await fetch(`${started.proxy.llmUrl}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect(res.status).toBe(status);
    const json = (await res.json()) as { error: Record<string, unknown> };
    expect(Object.keys(json.error).sort()).toEqual(['code', 'message', 'param', 'type']);
    expect(json.error.code).toBe(code);
    expect(res.headers.get('x-should-retry')).toBe('false');
  });

  test('a body over the limit is a 413', async () => {
    const small = await startWith([{ name: 'r', models: ['chat'], backends: [backend('primary', fake.baseURL)] }], { extra: { server: { maxBodyBytes: 1024 } } });
    try {
      const error = await small.client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'x'.repeat(5000) }] }).catch((e: unknown) => e);
      expect((error as InstanceType<typeof OpenAI.APIError>).status).toBe(413);
      expect((error as InstanceType<typeof OpenAI.APIError>).code).toBe('request_too_large');
    } finally {
      await small.close();
    }
  });

  test('an endless chunked upload over the limit gets its 413 and the connection is closed, not drained', async () => {
    const small = await startWith([{ name: 'r', models: ['chat'], backends: [backend('primary', fake.baseURL)] }], { extra: { server: { maxBodyBytes: 1024 } } });
    const { port } = new URL(small.proxy.llmUrl);
    const socket = connect(Number(port), '127.0.0.1');
    try {
      await once(socket, 'connect');
      socket.write('POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n');
      let answer = '';
      socket.on('data', (chunk: Buffer) => (answer += chunk.toString()));
      const closed = new Promise<void>((resolve) => socket.once('end', () => resolve()));
      // Keeps uploading until the proxy hangs up: 64 KiB every 5 ms (a limit of 1 KiB).
      const chunk = `10000\r\n${'x'.repeat(0x10000)}\r\n`;
      const pump = setInterval(() => socket.writable && socket.write(chunk), 5);
      try {
        await Promise.race([closed, new Promise((_, reject) => setTimeout(() => reject(new Error(`still open; got: ${answer.slice(0, 200)}`)), 5000).unref())]);
      } finally {
        clearInterval(pump);
      }
      expect(answer).toMatch(/^HTTP\/1\.1 413 /);
      expect(answer.toLowerCase()).toContain('connection: close');
      expect(answer).toContain('"code":"request_too_large"');
    } finally {
      socket.destroy();
      await small.close();
    }
  });

  test('models lists the route model names; retrieve answers for a served one and 404s for another', async () => {
    const { data: models, response } = await started.client.models.list().withResponse();
    expect(models.data.map((m) => m.id)).toEqual(['chat', 'gpt-4o']);
    expect(response.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    const model = await started.client.models.retrieve('gpt-4o');
    expect(model).toMatchObject({ id: 'gpt-4o', object: 'model', owned_by: 'llmroute' });
    const missing = (await started.client.models.retrieve('gpt-9').catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(missing.status).toBe(404);
    expect(missing.code).toBe('model_not_found');
  });

  test('an unknown path is a 404 with the caller\'s x-request-id', async () => {
    const res = await fetch(`${started.proxy.llmUrl}/v1/nothing-here`, { headers: { 'x-request-id': 'trace-me-42' } });
    expect(res.status).toBe(404);
    expect(res.headers.get('x-request-id')).toBe('trace-me-42');
  });

  test('embeddings are routed like chat', async () => {
    const result = await started.client.embeddings.create({ model: 'chat', input: ['a', 'b'] });
    expect(result.data).toHaveLength(2);
    expect(fake.requests[0]!.url).toBe('/v1/embeddings');
    expect(fake.requests[0]!.body.model).toBe('primary-model');
  });

  // The two hot endpoints are served before express on an exact path; every variant express accepts
  // must still reach the same handler through the express app, with the same answers.
  test.each([
    ['/v1/chat/completions', 'the exact path'],
    ['/v1/chat/completions?api-version=1', 'a query string'],
    ['/v1/chat/completions/', 'a trailing slash'],
    ['/V1/Chat/Completions', 'other letter case'],
  ])('POST %s (%s) is a chat completion', async (path) => {
    const res = await fetch(`${started.proxy.llmUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] }) });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-llmroute-backend')).toBe('primary');
    expect(((await res.json()) as { choices: Array<{ message: { content: string } }> }).choices[0]!.message.content).toBe('Hello there, friend.');
  });

  test.each(['/v1/embeddings', '/v1/embeddings/'])('POST %s is an embeddings call', async (path) => {
    const res = await fetch(`${started.proxy.llmUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'chat', input: 'a' }) });
    expect(res.status).toBe(200);
    expect(fake.requests[0]!.url).toBe('/v1/embeddings');
  });

  test('a longer path under a hot one is not taken for it (it is forwarded as another endpoint)', async () => {
    const res = await fetch(`${started.proxy.llmUrl}/v1/chat/completions/extra`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] }) });
    await res.arrayBuffer();
    expect(fake.requests[0]!.url).toBe('/v1/chat/completions/extra');
  });

  test('an OpenAI-compatible answer goes out byte for byte as the upstream sent it (no re-encoding)', async () => {
    // Formatting and number spelling that JSON.stringify would change: proof the bytes were relayed.
    const completion = '{ "id": "chatcmpl-raw", "object": "chat.completion", "created": 1760000000, "model": "primary-model", "choices": [ { "index": 0, "message": { "role": "assistant", "content": "raw" }, "finish_reason": "stop" } ], "usage": { "prompt_tokens": 1.0, "completion_tokens": 1, "total_tokens": 2 } }';
    const embeddings = '{"object":"list","model":"primary-model","data":[{"object":"embedding","index":0,"embedding":[1.50,2e-3]}],"usage":{"prompt_tokens":1,"total_tokens":1}}';
    fake.queue({ body: completion }, { body: embeddings });
    const post = (path: string, body: unknown) => fetch(`${started.proxy.llmUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect(await (await post('/v1/chat/completions', { model: 'chat', messages: [{ role: 'user', content: 'hi' }] })).text()).toBe(completion);
    expect(await (await post('/v1/embeddings', { model: 'chat', input: 'a' })).text()).toBe(embeddings);
  });

  test('GET on a hot path is not served as a completion', async () => {
    const res = await fetch(`${started.proxy.llmUrl}/v1/chat/completions`);
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('unknown_url');
  });
});
