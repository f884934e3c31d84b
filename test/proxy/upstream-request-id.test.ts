// The provider's own id of each answer (OpenAI's x-request-id, Anthropic's request-id) reaches the
// client as x-llmroute-upstream-request-id and the request's log line, per attempt: what a support
// ticket with the provider needs. An id that is not short and plain is dropped, never echoed.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { ProxyMetrics } from '#proxy/telemetry/metrics.ts';
import { createObserver } from '#proxy/telemetry/observer.ts';
import { startAnthropicFake, type AnthropicFake } from '#test/fakes/anthropic-server.ts';
import { startOpenAIFake, type OpenAIFake } from '#test/fakes/openai-fake.ts';
import { startWith, type Started } from '#test/proxy/harness.ts';
import { captureRequestLog } from '#test/proxy/request-log-capture.ts';

let openai: OpenAIFake;
let anthropic: AnthropicFake;
let proxy: Started;
const log = captureRequestLog();

beforeAll(async () => {
  [openai, anthropic] = await Promise.all([startOpenAIFake(), startAnthropicFake()]);
  proxy = await startWith(
    [
      {
        name: 'ns/chat',
        models: ['chat'],
        backends: [
          { name: 'first', provider: 'openai', model: 'gpt-4o-mini', baseURL: openai.baseURL, credentials: { kind: 'none' } },
          { name: 'second', provider: 'openai', model: 'gpt-4o-mini', baseURL: openai.baseURL, credentials: { kind: 'none' } },
        ],
        retries: { attempts: 0 },
      },
      { name: 'ns/claude', models: ['claude'], backends: [{ name: 'claude', provider: 'anthropic', model: 'claude-sonnet-4-5', baseURL: anthropic.url, credentials: { kind: 'env', name: 'ANTHROPIC_KEY' } }], retries: { attempts: 0 } },
    ],
    { env: { ANTHROPIC_KEY: 'sk-ant-test' }, telemetry: createObserver({ metrics: new ProxyMetrics(), logger: log.logger }) },
  );
});
afterAll(async () => {
  await proxy.close();
  await Promise.all([openai.close(), anthropic.close()]);
});

const client = () => proxy.client;
const lineOf = async (requestId: string) => (await log.lineFor(requestId)) as { attempts: { backend: string; upstreamRequestId?: string }[] };

describe('upstream request ids', () => {
  test('a completion: header and log line carry the provider id; a failed attempt keeps its own', async () => {
    openai.queue({ status: 503, headers: { 'x-request-id': 'req_failed_503' } }, { headers: { 'x-request-id': 'req_answer_200' } });
    const { response } = await client().chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] }, { headers: { 'x-request-id': 'client-1' } }).withResponse();
    expect(response.headers.get('x-llmroute-upstream-request-id')).toBe('req_answer_200');
    expect(response.headers.get('x-request-id')).toBe('client-1');
    const line = await lineOf('client-1');
    expect(line.attempts.map((a) => [a.backend, a.upstreamRequestId])).toEqual([['first', 'req_failed_503'], ['second', 'req_answer_200']]);
  });

  test('a stream: the id comes with the headers', async () => {
    openai.queue({ headers: { 'x-request-id': 'req_stream' } });
    const { data: stream, response } = await client().chat.completions.create({ model: 'chat', stream: true, messages: [{ role: 'user', content: 'hi' }] }, { headers: { 'x-request-id': 'client-2' } }).withResponse();
    for await (const _ of stream);
    expect(response.headers.get('x-llmroute-upstream-request-id')).toBe('req_stream');
    expect((await lineOf('client-2')).attempts[0]?.upstreamRequestId).toBe('req_stream');
  });

  test("Anthropic's request-id header counts too", async () => {
    const { response } = await client().chat.completions.create({ model: 'claude', messages: [{ role: 'user', content: 'hi' }] }, { headers: { 'x-request-id': 'client-3' } }).withResponse();
    expect(response.headers.get('x-llmroute-upstream-request-id')).toMatch(/^req_fake/);
  });

  test('an id that is not short and plain is dropped', async () => {
    openai.queue({ headers: { 'x-request-id': `req_${'x'.repeat(200)}` } });
    const { response } = await client().chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] }, { headers: { 'x-request-id': 'client-4' } }).withResponse();
    expect(response.headers.get('x-llmroute-upstream-request-id')).toBeNull();
    expect((await lineOf('client-4')).attempts[0]?.upstreamRequestId).toBeUndefined();
  });

  test("a provider's own refusal (its 400) carries the provider's id to the client", async () => {
    openai.queue({ status: 400, headers: { 'x-request-id': 'req_refused_400' }, body: { error: { message: 'bad request', type: 'invalid_request_error', param: null, code: null } } });
    const error = await client().chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e);
    expect(error).toMatchObject({ status: 400 });
    expect((error as { headers: Headers }).headers.get('x-llmroute-upstream-request-id')).toBe('req_refused_400');
  });
});
