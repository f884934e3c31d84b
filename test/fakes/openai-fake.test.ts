// The OpenAI fake is driven by the official `openai` SDK as its client: if the SDK parses its answers,
// streams and errors as it parses OpenAI's, and sees each fault knob as the fault it stands for, the
// proxy's tests against the fake mean something.
import { afterAll, afterEach, beforeAll, describe, expect, test } from '@jest/globals';
import OpenAI from 'openai';
import { startOpenAIFake, type OpenAIFake } from './openai-fake.ts';

let fake: OpenAIFake;
let client: OpenAI;
beforeAll(async () => {
  fake = await startOpenAIFake();
  client = new OpenAI({ baseURL: fake.baseURL, apiKey: 'sk-test', maxRetries: 0 });
});
afterEach(() => {
  fake.requests.length = 0;
});
afterAll(() => fake.close());

const messages: OpenAI.ChatCompletionMessageParam[] = [{ role: 'user', content: 'hi' }];

async function streamedText(stream: AsyncIterable<OpenAI.ChatCompletionChunk>): Promise<{ text: string; finish: string[]; usage: OpenAI.CompletionUsage[] }> {
  let text = '';
  const finish: string[] = [];
  const usage: OpenAI.CompletionUsage[] = [];
  for await (const chunk of stream) {
    text += chunk.choices[0]?.delta.content ?? '';
    if (chunk.choices[0]?.finish_reason) finish.push(chunk.choices[0].finish_reason);
    if (chunk.usage) usage.push(chunk.usage);
  }
  return { text, finish, usage };
}

describe('OpenAI fake, as the official SDK sees it', () => {
  test('a completion: content, finish reason, usage; the SDK sent its key to /v1/chat/completions', async () => {
    fake.queue({ content: 'Bonjour tout le monde' });
    const answer = await client.chat.completions.create({ model: 'gpt-test', messages });
    expect(answer.choices[0]!.message.content).toBe('Bonjour tout le monde');
    expect(answer.choices[0]!.finish_reason).toBe('stop');
    expect(answer.usage).toMatchObject({ prompt_tokens: 9, completion_tokens: 4, total_tokens: 13 });
    expect(fake.requests[0]!.url).toBe('/v1/chat/completions');
    expect(fake.requests[0]!.headers.authorization).toBe('Bearer sk-test');
  });

  test('the SDK reads the request id every answer carries', async () => {
    const { response } = await client.chat.completions.create({ model: 'gpt-test', messages }).withResponse();
    expect(response.headers.get('x-request-id')).toMatch(/^req_[a-z0-9]+$/);
  });

  test('a stream: deltas, finish reason, and the usage chunk only when asked for', async () => {
    fake.queue({ content: 'one two three' }, { content: 'one two three' });
    expect(await streamedText(await client.chat.completions.create({ model: 'gpt-test', stream: true, messages }))).toEqual({ text: 'one two three', finish: ['stop'], usage: [] });
    const withUsage = await streamedText(await client.chat.completions.create({ model: 'gpt-test', stream: true, stream_options: { include_usage: true }, messages }));
    expect(withUsage.usage).toEqual([{ prompt_tokens: 9, completion_tokens: 3, total_tokens: 12 }]);
  });

  test('split UTF-8 (a character cut between two writes) reaches the SDK whole', async () => {
    fake.queue({ content: 'héllo wörld ✓ 日本', splitUtf8: true });
    const { text } = await streamedText(await client.chat.completions.create({ model: 'gpt-test', stream: true, messages }));
    expect(text).toBe('héllo wörld ✓ 日本');
  });

  test('embeddings, one per input', async () => {
    const result = await client.embeddings.create({ model: 'embed-test', input: ['a', 'b'] });
    expect(result.data.map((d) => d.index)).toEqual([0, 1]);
    expect(result.data[0]!.embedding).toEqual([0.1, 0.2, 0.3]);
  });

  test.each([
    [400, OpenAI.BadRequestError],
    [401, OpenAI.AuthenticationError],
    [429, OpenAI.RateLimitError],
    [500, OpenAI.InternalServerError],
  ])('status %i is the SDK error class for it, with the fake error body', async (status, errorClass) => {
    fake.queue({ status, headers: { 'retry-after': '1' } });
    const error = await client.chat.completions.create({ model: 'gpt-test', messages }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(errorClass);
    expect((error as InstanceType<typeof OpenAI.APIError>).message).toContain(`fake failure ${status}`);
  });

  test('a mid-stream error event is thrown by the SDK as an API error', async () => {
    fake.queue({ midStreamError: true });
    const failure = await streamedText(await client.chat.completions.create({ model: 'gpt-test', stream: true, messages })).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(OpenAI.APIError);
    expect((failure as Error).message).toContain('the model crashed');
  });

  test('a malformed event breaks the SDK stream (what the proxy must never pass on)', async () => {
    fake.queue({ malformed: true });
    const failure = await streamedText(await client.chat.completions.create({ model: 'gpt-test', stream: true, messages })).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(SyntaxError);
  });

  test('death mid-stream ends the SDK stream with an error, never as a complete answer', async () => {
    fake.queue({ dieAfterEvents: 1 });
    const failure = await streamedText(await client.chat.completions.create({ model: 'gpt-test', stream: true, messages })).catch((e: unknown) => e);
    // undici's "terminated" (a TypeError of Node's own realm, hence matched by name, not instanceof)
    expect(failure).toMatchObject({ name: 'TypeError', message: 'terminated' });
  });
});
