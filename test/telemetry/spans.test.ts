// The CLIENT span of one attempt, driven through the telemetry seam directly: the GenAI request
// attributes read from the client's request (parameters only, never content), the response id,
// time to first chunk in seconds, and prompt content only when both the policy and the
// OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT opt-in allow it.
import { describe, expect, test } from '@jest/globals';
import { SpanKind, type Attributes } from '@opentelemetry/api';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace';
import type { BackendConfig } from '#proxy/config/schema.ts';
import type { ChatCompletionRequest } from '#proxy/openai/types.ts';
import type { AttemptEnd, RouteResolved } from '#proxy/telemetry/hooks.ts';
import { createTracing } from '#proxy/telemetry/tracing.ts';

const CANARY_PROMPT = 'canary-prompt-91a2: the launch date';
const OFF = { enabled: false as const, reason: 'test', propagators: ['tracecontext' as const], captureMessageContent: false, warnings: [] };
const BACKEND = { name: 'primary', provider: 'openai', model: 'gpt-4o' } as BackendConfig;

const exporter = new InMemorySpanExporter();

/** One request with one attempt; the CLIENT span's attributes. */
async function attemptAttributes(options: { request?: ChatCompletionRequest; stream?: boolean; logPrompts?: boolean; capture?: boolean; end?: Partial<AttemptEnd>; firstTokenMs?: number }): Promise<Attributes> {
  exporter.reset();
  const tracing = await createTracing({ ...OFF, captureMessageContent: options.capture ?? false }, { serviceVersion: 'test', exporter });
  const span = tracing.tracer.startRequest({ requestId: 'r-1', operation: 'chat', httpRoute: '/v1/chat/completions', headers: {} });
  const resolved: RouteResolved = { route: 'ns/chat', clientModel: 'chat', stream: options.stream ?? false, logPrompts: options.logPrompts ?? false, deniedBackends: [] };
  if (options.request) {
    resolved.request = options.request;
    resolved.messages = options.request.messages;
  }
  span.routeResolved(resolved);
  const attempt = span.startAttempt({ backend: BACKEND, providerName: 'openai', serverAddress: 'api.openai.com', serverPort: 443, attempt: 1, reason: 'initial' });
  if (options.firstTokenMs !== undefined) attempt.firstToken(options.firstTokenMs);
  attempt.end({ outcome: 'success', status: 200, ...options.end }, undefined);
  span.end({ status: 200, attempts: 1 }, { partial: false });
  return exporter.getFinishedSpans().find((s) => s.kind === SpanKind.CLIENT)!.attributes;
}

const requestKeys = (attributes: Attributes) => Object.keys(attributes).filter((k) => k.startsWith('gen_ai.request.') && k !== 'gen_ai.request.model');

describe('request attributes', () => {
  test('the parameters the client set, and json output when response_format asks for it; no content', async () => {
    const request: ChatCompletionRequest = {
      model: 'chat',
      messages: [{ role: 'user', content: CANARY_PROMPT }],
      stream: true,
      max_completion_tokens: 256,
      max_tokens: 100,
      temperature: 0.2,
      top_p: 0.9,
      stop: ['END', '###'],
      frequency_penalty: 0.5,
      presence_penalty: -0.5,
      n: 2,
      seed: 42,
      response_format: { type: 'json_schema', json_schema: { name: 'answer' } },
    };
    // Stop sequences are the client's own strings: recorded only where prompts may be.
    const attributes = await attemptAttributes({ request, stream: true, logPrompts: true, capture: true });
    expect(attributes).toMatchObject({
      'gen_ai.request.stream': true,
      'gen_ai.request.max_tokens': 256, // max_completion_tokens wins over the deprecated max_tokens
      'gen_ai.request.temperature': 0.2,
      'gen_ai.request.top_p': 0.9,
      'gen_ai.request.stop_sequences': ['END', '###'],
      'gen_ai.request.frequency_penalty': 0.5,
      'gen_ai.request.presence_penalty': -0.5,
      'gen_ai.request.choice.count': 2,
      'gen_ai.request.seed': 42,
      'gen_ai.output.type': 'json',
    });
    const withoutText = await attemptAttributes({ request, stream: true });
    expect(JSON.stringify(withoutText)).not.toContain('canary-prompt');
    expect(withoutText['gen_ai.request.stop_sequences']).toBeUndefined();
    expect(withoutText['gen_ai.request.temperature']).toBe(0.2);
    expect((await attemptAttributes({ request: { ...request, response_format: { type: 'json_object' } } }))['gen_ai.output.type']).toBe('json');
  });

  test('none that the client did not set: not n = 1 (the default), not stream when not streaming; text output', async () => {
    const attributes = await attemptAttributes({ request: { model: 'chat', messages: [{ role: 'user', content: 'hi' }], n: 1, temperature: null, max_tokens: 50 } });
    expect(requestKeys(attributes)).toEqual(['gen_ai.request.max_tokens']);
    expect(attributes['gen_ai.output.type']).toBe('text');
    const stop = await attemptAttributes({ request: { model: 'chat', messages: [], stop: 'END', response_format: { type: 'text' } }, logPrompts: true, capture: true });
    expect(stop['gen_ai.request.stop_sequences']).toEqual(['END']);
    expect(stop['gen_ai.output.type']).toBe('text');
  });

  test('without a request (embeddings, pass-through): no parameters and no output type', async () => {
    const attributes = await attemptAttributes({});
    expect(requestKeys(attributes)).toEqual([]);
    expect(attributes['gen_ai.output.type']).toBeUndefined();
  });
});

test('response id, and time to first chunk in seconds', async () => {
  const attributes = await attemptAttributes({ stream: true, firstTokenMs: 1234.5, end: { responseId: 'chatcmpl-abc123' } });
  expect(attributes['gen_ai.response.id']).toBe('chatcmpl-abc123');
  expect(attributes['gen_ai.response.time_to_first_chunk']).toBeCloseTo(1.2345, 9);
  expect(attributes['llmroute.time_to_first_token_ms']).toBeUndefined();
});

test.each([
  [true, true, true],
  [true, false, false],
  [false, true, false],
  [false, false, false],
])('policy allows prompts: %s, capture opted into: %s -> content recorded: %s', async (logPrompts, capture, recorded) => {
  const attributes = await attemptAttributes({
    request: { model: 'chat', messages: [{ role: 'user', content: CANARY_PROMPT }] },
    logPrompts,
    capture,
    end: { choices: [{ message: { role: 'assistant', content: 'canary-answer' }, finish_reason: 'stop' }] },
  });
  expect(attributes['gen_ai.input.messages'] !== undefined).toBe(recorded);
  expect(attributes['gen_ai.output.messages'] !== undefined).toBe(recorded);
  expect(JSON.stringify(attributes).includes('canary-')).toBe(recorded);
});
