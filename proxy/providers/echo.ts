// `echo`: an offline provider that answers with the last user message. It makes the quick start
// and smoke tests of a deployment work without any API key or network; never a real model.
import * as z from '../config/zod.ts';
import type { ChatCompletionRequest, ContentPart } from '../openai/types.ts';
import type { LocalAnswer, ProviderAdapter, SseEvent } from './adapter.ts';
import { openAICompatible } from './openai-compatible.ts';

const optionsSchema = z.strictObject({
  /** Text put before the echoed message. */
  prefix: z._default(z.string(), 'echo: '),
});
type EchoOptions = z.infer<typeof optionsSchema>;

function lastUserText(request: ChatCompletionRequest): string {
  for (let i = request.messages.length - 1; i >= 0; i--) {
    const m = request.messages[i]!;
    if (m.role !== 'user') continue;
    if (typeof m.content === 'string') return m.content;
    if (Array.isArray(m.content)) return (m.content as ContentPart[]).filter((p) => p.type === 'text').map((p) => (p as { text: string }).text).join(' ');
  }
  return '';
}

/** A rough token count (words), so usage and cost paths are exercised offline. */
const countTokens = (text: string) => (text.trim() === '' ? 0 : text.trim().split(/\s+/).length);

function answer(request: ChatCompletionRequest, options: EchoOptions, model: string): LocalAnswer {
  const text = options.prefix + lastUserText(request);
  const prompt = request.messages.reduce((n, m) => n + countTokens(typeof m.content === 'string' ? m.content : ''), 0);
  const usage = { prompt_tokens: prompt, completion_tokens: countTokens(text), total_tokens: prompt + countTokens(text) };
  const id = `chatcmpl-echo-${Date.now().toString(36)}`;
  const created = Math.floor(Date.now() / 1000);
  if (!request.stream) {
    return {
      kind: 'json',
      body: { id, object: 'chat.completion', created, model, choices: [{ index: 0, message: { role: 'assistant', content: text, refusal: null }, logprobs: null, finish_reason: 'stop' }], usage },
    };
  }
  const chunk = (delta: object, finish: string | null): SseEvent => ({
    data: JSON.stringify({ id, object: 'chat.completion.chunk', created, model, choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }] }),
  });
  const words = text.split(/(?<=\s)/);
  return {
    kind: 'events',
    events: [
      chunk({ role: 'assistant', content: '' }, null),
      ...words.map((w) => chunk({ content: w }, null)),
      chunk({}, 'stop'),
      { data: JSON.stringify({ id, object: 'chat.completion.chunk', created, model, choices: [], usage }) },
      { data: '[DONE]' },
    ],
  };
}

const base = openAICompatible<EchoOptions>({
  name: 'echo',
  telemetryName: 'llmroute.echo',
  defaultBaseURL: 'http://echo.invalid',
  optionsSchema,
  url: (t) => `${t.baseURL}/unused`,
  auth: () => ({}),
});

export const echoAdapter: ProviderAdapter<EchoOptions> = {
  ...base,
  answerLocally: (request, target) => answer(request, target.options, target.config.model),
};
