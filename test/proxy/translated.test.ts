// End to end through translation: the official openai SDK -> proxy -> Anthropic and Gemini fakes
// (themselves proven by the providers' SDKs). The app must not notice which provider answered.
import { afterAll, afterEach, beforeAll, describe, expect, test } from '@jest/globals';
import OpenAI from 'openai';
import { startAnthropicFake, type AnthropicFake } from '#test/fakes/anthropic-server.ts';
import { startGeminiFake, type GeminiFake } from '#test/fakes/gemini-server.ts';
import { startWith, waitFor, type RouteInput, type Started } from './harness.ts';

let anthropic: AnthropicFake;
let gemini: GeminiFake;
const running: Started[] = [];
const env = { ANTHROPIC_KEY: 'sk-ant-secret', GEMINI_KEY: 'gemini-secret' };

beforeAll(async () => {
  [anthropic, gemini] = await Promise.all([startAnthropicFake(), startGeminiFake()]);
});
afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.close()));
  anthropic.requests.length = 0;
  gemini.requests.length = 0;
  anthropic.setDefault({});
  gemini.setDefault({});
});
afterAll(async () => {
  await Promise.all([anthropic.close(), gemini.close()]);
});

const claude = (extra: Record<string, unknown> = {}) => ({ name: 'claude', provider: 'anthropic' as const, model: 'claude-sonnet-4-5', baseURL: anthropic.url, credentials: { kind: 'env' as const, name: 'ANTHROPIC_KEY' }, ...extra });
const gem = (extra: Record<string, unknown> = {}) => ({ name: 'gemini', provider: 'gemini' as const, model: 'gemini-2.5-flash', baseURL: gemini.url, credentials: { kind: 'env' as const, name: 'GEMINI_KEY' }, ...extra });

async function proxyTo(...backends: RouteInput['backends']): Promise<OpenAI> {
  const s = await startWith([{ name: 'r', models: ['chat'], backends, retries: { attempts: 0 } }], { env });
  running.push(s);
  return s.client;
}

const weatherTools: OpenAI.ChatCompletionTool[] = [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } }];

describe.each([
  ['anthropic', () => claude()],
  ['gemini', () => gem()],
])('%s behind the OpenAI API', (provider, target) => {
  const fake = () => (provider === 'anthropic' ? anthropic : gemini);

  test('a plain completion, with usage', async () => {
    fake().queue({ content: 'Guten Tag' });
    const client = await proxyTo(target());
    const completion = await client.chat.completions.create({ model: 'chat', messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'hi' }] });
    expect(completion.object).toBe('chat.completion');
    expect(completion.choices[0]!.message.content).toBe('Guten Tag');
    expect(completion.choices[0]!.finish_reason).toBe('stop');
    expect(completion.usage!.prompt_tokens).toBeGreaterThan(0);
    expect(completion.usage!.total_tokens).toBe(completion.usage!.prompt_tokens + completion.usage!.completion_tokens);
  });

  test('streamed parallel tool calls reassemble in the SDK stream helper exactly as from OpenAI', async () => {
    const calls = [{ id: 'call_one', name: 'get_weather', city: 'Paris' }, { id: 'call_two', name: 'get_weather', city: 'Rome' }];
    if (provider === 'anthropic') anthropic.queue({ toolCalls: calls.map(({ id, name, city }) => ({ id, name, input: { city } })) });
    else gemini.queue({ toolCalls: calls.map(({ id, name, city }) => ({ id, name, args: { city } })) });
    const client = await proxyTo(target());
    const stream = client.chat.completions.stream({ model: 'chat', tools: weatherTools, messages: [{ role: 'user', content: 'Paris and Rome?' }] });
    const final = await stream.finalChatCompletion();
    const choice = final.choices[0]!;
    expect(choice.finish_reason).toBe('tool_calls');
    expect(choice.message.role).toBe('assistant');
    expect(choice.message.tool_calls?.map((c) => (c.type === 'function' ? [c.id, c.function.name, JSON.parse(c.function.arguments)] : []))).toEqual([
      ['call_one', 'get_weather', { city: 'Paris' }],
      ['call_two', 'get_weather', { city: 'Rome' }],
    ]);
  });

  test('a multi-turn tool loop is accepted upstream (calls answered in the next turn, merged)', async () => {
    fake().queue({ content: 'Paris 21, Rome 25.' });
    const client = await proxyTo(target());
    const completion = await client.chat.completions.create({
      model: 'chat',
      tools: weatherTools,
      messages: [
        { role: 'user', content: 'Paris and Rome?' },
        { role: 'assistant', content: '', tool_calls: [{ id: 'call_one', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }, { id: 'call_two', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Rome"}' } }] },
        { role: 'tool', tool_call_id: 'call_one', content: '{"temp_c":21}' },
        { role: 'tool', tool_call_id: 'call_two', content: '{"temp_c":25}' },
      ],
    });
    expect(completion.choices[0]!.message.content).toBe('Paris 21, Rome 25.');
  });

  test('streaming text with include_usage: role first, content, finish_reason, then one usage chunk', async () => {
    fake().queue({ content: 'Grüße aus 😀 Köln', splitUtf8: true });
    const client = await proxyTo(target());
    const stream = await client.chat.completions.create({ model: 'chat', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'hi' }] });
    let text = '';
    const finishes: string[] = [];
    let usageChunks = 0;
    let firstDeltaRole: string | undefined;
    for await (const chunk of stream) {
      if (chunk.choices.length === 0) {
        usageChunks += 1;
        expect(chunk.usage!.completion_tokens).toBeGreaterThan(0);
        continue;
      }
      firstDeltaRole ??= chunk.choices[0]!.delta.role ?? 'missing';
      text += chunk.choices[0]!.delta.content ?? '';
      if (chunk.choices[0]!.finish_reason) finishes.push(chunk.choices[0]!.finish_reason);
    }
    expect(firstDeltaRole).toBe('assistant');
    expect(text).toBe('Grüße aus 😀 Köln');
    expect(finishes).toEqual(['stop']);
    expect(usageChunks).toBe(1);
  });

  test('without include_usage no usage chunk reaches the client', async () => {
    const client = await proxyTo(target());
    const stream = await client.chat.completions.create({ model: 'chat', stream: true, messages: [{ role: 'user', content: 'hi' }] });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks.length).toBeGreaterThan(2);
    expect(chunks.every((c) => c.choices.length === 1 && !c.usage)).toBe(true);
  });

  test('an error mid-stream ends the SDK stream with an error', async () => {
    fake().queue({ content: 'one two three', midStreamError: true });
    const client = await proxyTo(target());
    const stream = await client.chat.completions.create({ model: 'chat', stream: true, messages: [{ role: 'user', content: 'hi' }] });
    let text = '';
    const consumed = (async () => {
      for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    })();
    await expect(consumed).rejects.toBeInstanceOf(OpenAI.APIError);
    expect(text).toBe('one ');
  });

  test('a parameter the provider cannot honour is a 400 with a stable code', async () => {
    const client = await proxyTo(target());
    const error = await client.chat.completions.create({ model: 'chat', n: 2, messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect((error as InstanceType<typeof OpenAI.BadRequestError>).code).toBe('unsupported_parameter');
    expect(fake().requests).toHaveLength(0);
  });

  test('a client that disconnects mid-stream cancels the upstream call', async () => {
    fake().queue({ content: 'a b c d e f g h i j k l m n o p', delayBetweenMs: 100 });
    const client = await proxyTo(target());
    const before = fake().aborted;
    const controller = new AbortController();
    const stream = await client.chat.completions.create({ model: 'chat', stream: true, messages: [{ role: 'user', content: 'hi' }] }, { signal: controller.signal });
    await (async () => {
      for await (const _ of stream) controller.abort();
    })().catch(() => undefined);
    await waitFor(() => fake().aborted === before + 1);
  });
});

describe('translation specifics', () => {
  test('the Anthropic backend gets its key, version and default max_tokens; the app key never leaves', async () => {
    const client = await proxyTo(claude({ options: { defaultMaxTokens: 777 } }));
    await client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] });
    const sent = anthropic.requests[0]!;
    expect(sent.headers['x-api-key']).toBe('sk-ant-secret');
    expect(sent.headers['anthropic-version']).toBe('2023-06-01');
    expect(sent.headers.authorization).toBeUndefined();
    expect(sent.body.max_tokens).toBe(777);
    expect(JSON.stringify(sent)).not.toContain('sk-app-placeholder');
  });

  test('options.inferenceGeo is sent as inference_geo on every request, streamed or not; without it none is sent', async () => {
    const client = await proxyTo(claude({ options: { inferenceGeo: 'us' } }));
    await client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] });
    const stream = await client.chat.completions.create({ model: 'chat', stream: true, messages: [{ role: 'user', content: 'hi' }] });
    for await (const _ of stream);
    expect(anthropic.requests.map((r) => r.body.inference_geo)).toEqual(['us', 'us']);
    const plain = await proxyTo(claude());
    await plain.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] });
    expect(anthropic.requests[2]!.body).not.toHaveProperty('inference_geo');
  });

  test('Anthropic 529 fails over to Gemini', async () => {
    anthropic.queue({ status: 529, errorType: 'overloaded_error', errorMessage: 'Overloaded' });
    gemini.queue({ content: 'from gemini' });
    const client = await proxyTo(claude(), gem());
    const { data, response } = await client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] }).withResponse();
    expect(data.choices[0]!.message.content).toBe('from gemini');
    expect(response.headers.get('x-llmroute-attempts')).toBe('2');
    expect(response.headers.get('x-llmroute-backend')).toBe('gemini');
  });

  test('an Anthropic overloaded error right after message_start still fails over (nothing was sent yet)', async () => {
    anthropic.queue({ errorAfterStart: true });
    gemini.queue({ content: 'rescued' });
    const client = await proxyTo(claude(), gem());
    const stream = await client.chat.completions.create({ model: 'chat', stream: true, messages: [{ role: 'user', content: 'hi' }] });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    expect(text).toBe('rescued');
  });

  test('an invalid Gemini key (HTTP 400 API_KEY_INVALID) is reported as the proxy credential failing', async () => {
    const s = await startWith([{ name: 'r', models: ['chat'], backends: [gem()], retries: { attempts: 0 } }], { env: { GEMINI_KEY: 'bad-key' } });
    running.push(s);
    const error = await s.client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e);
    expect((error as InstanceType<typeof OpenAI.APIError>).status).toBe(502);
    expect((error as InstanceType<typeof OpenAI.APIError>).code).toBe('upstream_unauthorized');
    expect(JSON.stringify((error as InstanceType<typeof OpenAI.APIError>).error)).not.toContain('bad-key');
  });

  test('a blocked Gemini prompt is content_filter, not an error', async () => {
    gemini.queue({ blockReason: 'SAFETY' });
    const client = await proxyTo(gem());
    const completion = await client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'something bad' }] });
    expect(completion.choices[0]!.finish_reason).toBe('content_filter');
    expect(completion.choices[0]!.message.content).toBeNull();
  });

  test('Gemini thought signatures round-trip by tool-call id across turns', async () => {
    gemini.queue({ toolCalls: [{ name: 'get_weather', args: { city: 'Paris' }, thoughtSignature: 'U0lHTkFUVVJF' }] }, { content: 'It is 21.' });
    const client = await proxyTo(gem());
    const first = await client.chat.completions.create({ model: 'chat', tools: weatherTools, messages: [{ role: 'user', content: 'Paris?' }] });
    const call = first.choices[0]!.message.tool_calls![0]!;
    expect(first.choices[0]!.finish_reason).toBe('tool_calls');
    expect(call.id).toMatch(/^call_/);
    const second = await client.chat.completions.create({
      model: 'chat',
      tools: weatherTools,
      messages: [{ role: 'user', content: 'Paris?' }, first.choices[0]!.message, { role: 'tool', tool_call_id: call.id, content: '{"temp_c":21}' }],
    });
    expect(second.choices[0]!.message.content).toBe('It is 21.');
    const replayed = gemini.requests[1]!.body.contents[1].parts[0];
    expect(replayed.thoughtSignature).toBe('U0lHTkFUVVJF');
    expect(gemini.requests[1]!.body.contents[2].parts[0].functionResponse).toEqual({ name: 'get_weather', response: { output: { temp_c: 21 } } });
  });

  test('embeddings on an Anthropic route are a clear 400', async () => {
    const client = await proxyTo(claude());
    const error = await client.embeddings.create({ model: 'chat', input: 'x' }).catch((e: unknown) => e);
    expect((error as InstanceType<typeof OpenAI.APIError>).status).toBe(400);
    expect((error as InstanceType<typeof OpenAI.APIError>).code).toBe('unsupported_operation');
  });
});
