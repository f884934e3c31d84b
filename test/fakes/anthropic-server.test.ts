// The Anthropic fake is driven by the official @anthropic-ai/sdk: if the SDK parses its answers,
// streams and errors, the fake speaks the real protocol and the proxy's tests against it mean something.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import Anthropic from '@anthropic-ai/sdk';
import { startAnthropicFake, type AnthropicFake } from './anthropic-server.ts';

let fake: AnthropicFake;
let client: Anthropic;
beforeAll(async () => {
  fake = await startAnthropicFake();
  client = new Anthropic({ baseURL: fake.url, apiKey: 'sk-ant-test', maxRetries: 0 });
});
afterAll(() => fake.close());

const weatherTool = { name: 'get_weather', input_schema: { type: 'object' as const, properties: { city: { type: 'string' } } } };

describe('Anthropic fake, as the official SDK sees it', () => {
  test('a message: text content, stop reason, usage; the SDK sent its key and version', async () => {
    fake.queue({ content: 'Bonjour tout le monde', usage: { input_tokens: 7, output_tokens: 4, cache_read_input_tokens: 3 } });
    const message = await client.messages.create({ model: 'claude-test-model', max_tokens: 100, messages: [{ role: 'user', content: 'hi' }] });
    expect(message.content).toEqual([{ type: 'text', text: 'Bonjour tout le monde' }]);
    expect(message.stop_reason).toBe('end_turn');
    expect(message.usage).toMatchObject({ input_tokens: 7, output_tokens: 4, cache_read_input_tokens: 3 });
    const sent = fake.requests.at(-1)!;
    expect(sent.url).toBe('/v1/messages');
    expect(sent.headers['anthropic-version']).toMatch(/^\d{4}-\d{2}-\d{2}$/);
  });

  test('inference_geo: the SDK sends it, usage reports where inference ran, an unknown geography is refused', async () => {
    const message = await client.messages.create({ model: 'claude-test-model', max_tokens: 100, inference_geo: 'us', messages: [{ role: 'user', content: 'hi' }] });
    expect(message.usage.inference_geo).toBe('us');
    expect(fake.requests.at(-1)!.body).toMatchObject({ inference_geo: 'us' });
    const stream = client.messages.stream({ model: 'claude-test-model', max_tokens: 100, inference_geo: 'us', messages: [{ role: 'user', content: 'hi' }] });
    expect((await stream.finalMessage()).usage.inference_geo).toBe('us');
    await expect(client.messages.create({ model: 'claude-test-model', max_tokens: 100, inference_geo: 'mars', messages: [{ role: 'user', content: 'hi' }] })).rejects.toMatchObject({ status: 400 });
  });

  test('a stream of named events is parsed by the SDK (text deltas, thinking, ping, final message)', async () => {
    fake.queue({ content: 'one two three', thinking: 'let me think' });
    const stream = client.messages.stream({ model: 'claude-test-model', max_tokens: 100, messages: [{ role: 'user', content: 'count' }] });
    const texts: string[] = [];
    stream.on('text', (t) => texts.push(t));
    const final = await stream.finalMessage();
    expect(texts).toEqual(['one ', 'two ', 'three']);
    expect(final.content.map((b) => b.type)).toEqual(['thinking', 'text']);
    expect(final.content[1]).toMatchObject({ type: 'text', text: 'one two three' });
    expect(final.stop_reason).toBe('end_turn');
  });

  test('streamed tool_use input fragments reassemble into the input object', async () => {
    fake.queue({ toolCalls: [{ id: 'toolu_A', name: 'get_weather', input: { city: 'Paris' } }, { id: 'toolu_B', name: 'get_weather', input: { city: 'Rome' } }] });
    const final = await client.messages.stream({ model: 'claude-test-model', max_tokens: 100, tools: [weatherTool], messages: [{ role: 'user', content: 'weather' }] }).finalMessage();
    expect(final.stop_reason).toBe('tool_use');
    expect(final.content).toEqual([
      { type: 'tool_use', id: 'toolu_A', name: 'get_weather', input: { city: 'Paris' } },
      { type: 'tool_use', id: 'toolu_B', name: 'get_weather', input: { city: 'Rome' } },
    ]);
  });

  test('raw stream events arrive in the documented order', async () => {
    fake.queue({ content: 'hi' });
    const events: string[] = [];
    for await (const event of await client.messages.create({ model: 'claude-test-model', max_tokens: 10, stream: true, messages: [{ role: 'user', content: 'x' }] })) events.push(event.type);
    expect(events).toEqual(['message_start', 'content_block_start', 'content_block_delta', 'content_block_stop', 'message_delta', 'message_stop']);
  });

  test('529 overloaded and 429 rate limits become the SDK typed errors', async () => {
    fake.queue({ status: 529, errorType: 'overloaded_error', errorMessage: 'Overloaded' });
    const overloaded = await client.messages.create({ model: 'm', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
    expect(overloaded).toBeInstanceOf(Anthropic.APIError);
    expect((overloaded as InstanceType<typeof Anthropic.APIError>).status).toBe(529);
    expect((overloaded as InstanceType<typeof Anthropic.APIError>).message).toContain('Overloaded');
    fake.queue({ status: 429, errorType: 'rate_limit_error' });
    await expect(client.messages.create({ model: 'm', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] })).rejects.toBeInstanceOf(Anthropic.RateLimitError);
  });

  test('an error event after the 200 makes the SDK stream throw', async () => {
    fake.queue({ content: 'half of it', midStreamError: true });
    const stream = client.messages.stream({ model: 'm', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] });
    await expect(stream.finalMessage()).rejects.toThrow(/Overloaded/);
  });

  test('what the real API refuses, the fake refuses: no max_tokens, empty text, orphan tool_use, tool blocks without tools', async () => {
    const raw = (body: unknown) => fetch(`${fake.url}/v1/messages`, { method: 'POST', headers: { 'x-api-key': 'k', 'anthropic-version': '2023-06-01', 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const cases: Array<[unknown, RegExp]> = [
      [{ model: 'm', messages: [{ role: 'user', content: 'x' }] }, /max_tokens/],
      [{ model: 'm', max_tokens: 5, messages: [{ role: 'user', content: [{ type: 'text', text: '' }] }] }, /must be non-empty/],
      [{ model: 'm', max_tokens: 5, tools: [weatherTool], messages: [{ role: 'user', content: 'x' }, { role: 'assistant', content: [{ type: 'tool_use', id: 't1', name: 'get_weather', input: {} }] }, { role: 'user', content: 'no result' }] }, /without `tool_result`/],
      [{ model: 'm', max_tokens: 5, messages: [{ role: 'user', content: 'x' }, { role: 'assistant', content: [{ type: 'tool_use', id: 't1', name: 'f', input: {} }] }, { role: 'user', content: [{ type: 'tool_result', tool_use_id: 't1', content: 'r' }] }] }, /must define tools/],
    ];
    for (const [body, message] of cases) {
      const res = await raw(body);
      expect(res.status).toBe(400);
      const error = (await res.json()) as { type: string; error: { type: string; message: string } };
      expect(error.type).toBe('error');
      expect(error.error.type).toBe('invalid_request_error');
      expect(error.error.message).toMatch(message);
    }
    const noVersion = await fetch(`${fake.url}/v1/messages`, { method: 'POST', headers: { 'x-api-key': 'k' }, body: '{}' });
    expect(noVersion.status).toBe(400);
  });
});
