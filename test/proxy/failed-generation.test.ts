// A provider that reports its generation failed part-way (Mistral's finish_reason `error`,
// DeepSeek's `insufficient_system_resource`) has not answered: the attempt fails over while nothing
// was sent, and a stream already under way ends with an error event, never as a whole completion.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { APIError } from 'openai';
import { startOpenAIFake, type OpenAIFake } from '#test/fakes/openai-fake.ts';
import { startWith, type Started } from '#test/proxy/harness.ts';
import { failedGenerationRoutes } from './failed-generation-routes.ts';
import type { BackendTarget } from '#proxy/providers/adapter.ts';
import { deepseekAdapter, mistralAdapter, openaiAdapter } from '#proxy/providers/openai-family.ts';

const target = { config: {}, baseURL: 'https://x', options: {}, apiKey: undefined } as unknown as BackendTarget<Record<string, never>>;
const chunk = (delta: object, finish: string | null) => JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta, finish_reason: finish }] });

let failing: OpenAIFake;
let healthy: OpenAIFake;
let proxy: Started;

beforeAll(async () => {
  [failing, healthy] = await Promise.all([startOpenAIFake(), startOpenAIFake()]);
  proxy = await startWith(failedGenerationRoutes(failing, healthy));
});
afterAll(async () => {
  await proxy.close();
  await Promise.all([failing.close(), healthy.close()]);
});

const ask = { messages: [{ role: 'user' as const, content: 'hi' }] };

describe('failed generations', () => {
  test("Mistral's finish_reason error fails over to the next backend (completion)", async () => {
    failing.queue({ finishReason: 'error', content: 'Half an' });
    healthy.queue({ content: 'A whole answer.' });
    const { data, response } = await proxy.client.chat.completions.create({ model: 'mistral-first', ...ask }).withResponse();
    expect(data.choices[0]?.message.content).toBe('A whole answer.');
    expect(response.headers.get('x-llmroute-backend')).toBe('fallback');
    expect(response.headers.get('x-llmroute-attempts')).toBe('2');
  });

  test('with no other backend, the client gets an error naming the failure, not a cut answer', async () => {
    failing.queue({ finishReason: 'insufficient_system_resource', content: 'Half an' });
    const error = await proxy.client.chat.completions.create({ model: 'deepseek-only', ...ask }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(APIError);
    expect((error as APIError).status).toBe(502);
    expect((error as APIError).message).toMatch(/generation_failed/);
  });

  test('a stream whose generation fails after text was sent ends with an error event', async () => {
    failing.queue({ finishReason: 'insufficient_system_resource', content: 'Some streamed words' });
    const stream = await proxy.client.chat.completions.create({ model: 'deepseek-only', stream: true, ...ask });
    let text = '';
    const error = await (async () => {
      for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    })().catch((e: unknown) => e);
    expect(text).toBe('Some streamed words');
    expect(error).toBeInstanceOf(APIError);
    expect(String((error as APIError).message)).toMatch(/generation failed part-way/);
  });

  test('a failing chunk without text: nothing goes out, the error comes at [DONE] (the first output: the attempt fails over)', () => {
    const translator = mistralAdapter.createStreamTranslator(target, { clientWantsUsage: false, clientModel: 'chat' });
    expect(translator.push({ data: chunk({ role: 'assistant', content: '' }, null) })).toEqual([]);
    expect(translator.push({ data: chunk({}, 'error') })).toEqual([]);
    expect(translator.push({ data: '[DONE]' }).map((o) => o.kind)).toEqual(['error']);
  });

  test('a failing chunk with text sends its text without the finish reason; usage still counts; then the error', () => {
    const translator = deepseekAdapter.createStreamTranslator(target, { clientWantsUsage: false, clientModel: 'chat' });
    const out = translator.push({ data: chunk({ content: 'last words' }, 'insufficient_system_resource') });
    expect(out.map((o) => o.kind)).toEqual(['chunk']);
    const sent = JSON.parse((out[0] as { json: string }).json) as { choices: { delta: { content: string }; finish_reason: string | null }[] };
    expect(sent.choices[0]).toMatchObject({ delta: { content: 'last words' }, finish_reason: null });
    const usage = { prompt_tokens: 9, completion_tokens: 2, total_tokens: 11 };
    expect(translator.push({ data: JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [], usage }) })).toEqual([]);
    expect(translator.usage()).toEqual(usage);
    expect(translator.push({ data: '[DONE]' }).map((o) => o.kind)).toEqual(['error']);
  });

  test('the opening role chunk waits for the first text, then both go out as received (Mistral); OpenAI sends it at once', () => {
    const opening = chunk({ role: 'assistant', content: '' }, null);
    const text = chunk({ content: 'Hi' }, null);
    const mistral = mistralAdapter.createStreamTranslator(target, { clientWantsUsage: false, clientModel: 'chat' });
    expect(mistral.push({ data: opening })).toEqual([]);
    expect(mistral.push({ data: text })).toEqual([{ kind: 'chunk', json: opening }, { kind: 'chunk', json: text }]);
    const openai = openaiAdapter.createStreamTranslator(target, { clientWantsUsage: false, clientModel: 'chat' });
    expect(openai.push({ data: opening })).toEqual([{ kind: 'chunk', json: opening }]);
  });

  test("another provider's unknown finish reason is passed on as it is", async () => {
    failing.queue({ finishReason: 'error', content: 'Fine.' });
    const completion = await proxy.client.chat.completions.create({ model: 'openai-only', ...ask });
    expect(completion.choices[0]?.finish_reason).toBe('error');
  });
});
