// Anthropic translation edges that real client traffic hits: a tool called without input in a
// stream, tool loops with reasoning on, what extended thinking refuses, tool-call ids minted by other
// providers, and an exhausted credit balance.
import { describe, expect, test } from '@jest/globals';
import { AnthropicStreamTranslator } from '#proxy/providers/anthropic/stream.ts';
import { anthropicRequestBody } from '#proxy/providers/anthropic/request.ts';
import { classifyAnthropicError } from '#proxy/providers/anthropic/errors.ts';
import { UnsupportedRequestError } from '#proxy/providers/adapter.ts';
import type { ChatCompletionRequest } from '#proxy/openai/types.ts';

const event = (data: Record<string, unknown>) => ({ event: String(data.type), data: JSON.stringify(data) });
const options = { defaultMaxTokens: 4096 };
type Body = { max_tokens: number; thinking?: { type: string; budget_tokens: number }; system?: Array<{ text: string }>; messages: Array<{ role: string; content: Array<{ type: string; id?: string; tool_use_id?: string; text?: string; source?: { media_type?: string } }> }> };
const body = (request: ChatCompletionRequest) => anthropicRequestBody(request, 'claude-sonnet-4-5', options) as unknown as Body;

describe('anthropic stream: a tool called without input', () => {
  test('its arguments are "{}", not "" (which the SDK and JSON.parse refuse)', () => {
    const translator = new AnthropicStreamTranslator({ clientModel: 'chat', clientWantsUsage: false });
    const outputs = [
      event({ type: 'message_start', message: { id: 'msg_1', model: 'claude', content: [], usage: { input_tokens: 5, output_tokens: 1 } } }),
      event({ type: 'content_block_start', index: 0, content_block: { type: 'tool_use', id: 'toolu_1', name: 'get_time', input: {} } }),
      event({ type: 'content_block_delta', index: 0, delta: { type: 'input_json_delta', partial_json: '' } }),
      event({ type: 'content_block_stop', index: 0 }),
      event({ type: 'content_block_start', index: 1, content_block: { type: 'tool_use', id: 'toolu_2', name: 'get_weather', input: {} } }),
      event({ type: 'content_block_delta', index: 1, delta: { type: 'input_json_delta', partial_json: '{"city":' } }),
      event({ type: 'content_block_delta', index: 1, delta: { type: 'input_json_delta', partial_json: '"Paris"}' } }),
      event({ type: 'content_block_stop', index: 1 }),
      event({ type: 'message_delta', delta: { stop_reason: 'tool_use' }, usage: { output_tokens: 10 } }),
      event({ type: 'message_stop' }),
    ].flatMap((e) => translator.push(e));
    const args = ['', ''];
    for (const output of outputs) {
      if (output.kind !== 'chunk') continue;
      for (const call of (JSON.parse(output.json) as { choices: Array<{ delta: { tool_calls?: Array<{ index: number; function?: { arguments?: string } }> } }> }).choices[0]?.delta.tool_calls ?? []) {
        args[call.index] += call.function?.arguments ?? '';
      }
    }
    expect(args).toEqual(['{}', '{"city":"Paris"}']);
  });
});

describe('anthropic request: reasoning_effort', () => {
  const toolLoop: ChatCompletionRequest = {
    model: 'chat', max_completion_tokens: 8000, reasoning_effort: 'low',
    tools: [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }],
    messages: [
      { role: 'user', content: 'Weather in Paris?' },
      { role: 'assistant', content: null, tool_calls: [{ id: 'toolu_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] },
      { role: 'tool', tool_call_id: 'toolu_1', content: '21C' },
    ],
  };

  test('a new question is answered with extended thinking', () => {
    expect(body({ ...toolLoop, messages: toolLoop.messages.slice(0, 1) }).thinking).toMatchObject({ type: 'enabled' });
  });

  test('inside a tool loop (its thinking blocks cannot come back in OpenAI messages) the turn goes without it, not refused', () => {
    const translated = body(toolLoop);
    expect(translated.thinking).toBeUndefined();
    expect(translated.messages[1]!.content[0]!.type).toBe('tool_use');
  });

  // The last user turn still carries the tool results after these (Anthropic would answer 400 "a final
  // assistant message must start with a thinking block" with thinking on).
  test.each([
    ['a user message after the results (a tool message cannot carry the image the tool made)', { role: 'user' as const, content: [{ type: 'image_url' as const, image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } }] }],
    ['a developer reminder after the results', { role: 'developer' as const, content: 'Be concise.' }],
  ])('still inside the loop with %s: no extended thinking', (_name, extra) => {
    const translated = body({ ...toolLoop, messages: [...toolLoop.messages, extra] });
    expect(translated.messages.at(-1)!.content[0]!.type).toBe('tool_result');
    expect(translated.thinking).toBeUndefined();
  });

  test.each([['medium', 4096], ['high', 16384], ['xhigh', 32768]] as const)('%s without a client limit: the thinking budget comes on top of the default answer room', (effort, budget) => {
    const translated = body({ model: 'chat', reasoning_effort: effort, messages: [{ role: 'user', content: 'Prove it.' }] });
    expect(translated.thinking).toEqual({ type: 'enabled', budget_tokens: budget });
    expect(translated.max_tokens).toBe(options.defaultMaxTokens + budget);
  });

  test("with a client limit, thinking counts within it (as OpenAI's max_completion_tokens counts reasoning)", () => {
    const translated = body({ model: 'chat', reasoning_effort: 'high', max_completion_tokens: 8000, messages: [{ role: 'user', content: 'Prove it.' }] });
    expect(translated).toMatchObject({ max_tokens: 8000, thinking: { budget_tokens: 7999 } });
  });

  test.each([
    ['a temperature other than 1', { temperature: 0.2 }, 'temperature'],
    ['top_p below 0.95', { top_p: 0.5 }, 'top_p'],
    ['a required tool', { tools: toolLoop.tools!, tool_choice: 'required' as const }, 'tool_choice'],
  ])('%s cannot go with extended thinking: refused here (another backend may take it)', (_name, extra, param) => {
    const request = { model: 'chat', max_completion_tokens: 8000, reasoning_effort: 'low' as const, messages: [{ role: 'user' as const, content: 'hi' }], ...extra };
    expect(() => body(request)).toThrow(UnsupportedRequestError);
    expect(() => body(request)).toThrow(expect.objectContaining({ param }));
  });
});

describe('anthropic request: tool-call ids from other providers', () => {
  test('ids Anthropic refuses are mapped, the call and its result alike; valid ones pass unchanged', () => {
    const translated = body({
      model: 'chat',
      messages: [
        { role: 'user', content: 'run' },
        { role: 'assistant', content: null, tool_calls: [
          { id: 'functions.bash:0', type: 'function', function: { name: 'bash', arguments: '{}' } },
          { id: 'call_ok-1', type: 'function', function: { name: 'bash', arguments: '{}' } },
        ] },
        { role: 'tool', tool_call_id: 'functions.bash:0', content: 'ok' },
        { role: 'tool', tool_call_id: 'call_ok-1', content: 'ok' },
      ],
    });
    const [mapped, kept] = translated.messages[1]!.content;
    expect(mapped!.id).toMatch(/^[a-zA-Z0-9_-]+$/);
    expect(kept!.id).toBe('call_ok-1');
    expect(translated.messages[2]!.content.map((b) => b.tool_use_id)).toEqual([mapped!.id, 'call_ok-1']);
  });
});

describe('anthropic request: text Anthropic refuses', () => {
  test('whitespace-only text (a model\'s "\\n\\n" beside its tool calls, a blank system or user message) is left out', () => {
    const translated = body({
      model: 'chat',
      tools: [{ type: 'function', function: { name: 'get_time' } }],
      messages: [
        { role: 'system', content: '  \n' },
        { role: 'user', content: 'Time?' },
        { role: 'assistant', content: '\n\n', tool_calls: [{ id: 'toolu_1', type: 'function', function: { name: 'get_time', arguments: '{}' } }] },
        { role: 'tool', tool_call_id: 'toolu_1', content: '12:00' },
        { role: 'user', content: ' ' },
      ],
    });
    expect(translated.system).toBeUndefined();
    expect(translated.messages.flatMap((m) => m.content).filter((b) => b.type === 'text')).toEqual([{ type: 'text', text: 'Time?' }]);
    expect(translated.messages[1]!.content.map((b) => b.type)).toEqual(['tool_use']);
  });

  test('a final assistant prefill loses its trailing whitespace (Anthropic refuses it)', () => {
    const translated = body({ model: 'chat', messages: [{ role: 'user', content: 'Say hi' }, { role: 'assistant', content: 'Hello \n' }] });
    expect(translated.messages.at(-1)!.content).toEqual([{ type: 'text', text: 'Hello' }]);
  });

  test('data:image/jpg (accepted by OpenAI) goes as image/jpeg', () => {
    const translated = body({ model: 'chat', messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'data:image/jpg;base64,/9j/4AAQ' } }] }] });
    expect(translated.messages[0]!.content[0]!.source).toMatchObject({ media_type: 'image/jpeg' });
  });
});

describe('anthropic errors', () => {
  test('a prompt over the context window has OpenAI\'s code for it (frameworks trim the history on it)', () => {
    const error = classifyAnthropicError(400, {}, JSON.stringify({ type: 'error', error: { type: 'invalid_request_error', message: 'prompt is too long: 210000 tokens > 200000 maximum' } }));
    expect(error).toMatchObject({ status: 400, retryable: false });
    expect(error.body.error.code).toBe('context_length_exceeded');
  });

  test('an exhausted credit balance (a 400 invalid_request_error) is a billing error, not the client\'s bad request', () => {
    const error = classifyAnthropicError(400, {}, JSON.stringify({ type: 'error', error: { type: 'invalid_request_error', message: 'Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits.' } }));
    expect(error.body.error.code).toBe('insufficient_quota');
    expect(error.status).toBe(402);
  });
});
