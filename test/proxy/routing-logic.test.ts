import { describe, expect, test } from '@jest/globals';
import { fullJitterDelay, retryDelay } from '#proxy/routing/backoff.ts';
import { RetryBudget } from '#proxy/routing/retry-budget.ts';
import { CircuitBreaker } from '#proxy/routing/circuit-breaker.ts';
import { attemptOrder } from '#proxy/routing/order.ts';
import { refusedByBackend } from '#proxy/routing/dispatch.ts';
import { classifyAnthropicError } from '#proxy/providers/anthropic/errors.ts';
import { classifyGeminiError } from '#proxy/providers/gemini/errors.ts';
import { retryAfterMs, classifyOpenAIStyleError } from '#proxy/providers/openai-errors.ts';
import { mistralToolCallId } from '#proxy/providers/openai-family.ts';
import { mistralAdapter, openaiAdapter } from '#proxy/providers/openai-family.ts';
import type { BackendTarget } from '#proxy/providers/adapter.ts';

describe('full-jitter backoff', () => {
  test.each([
    [0, 100, 10_000, 0.999, 99],
    [3, 100, 10_000, 0.5, 400],
    [10, 100, 1_000, 0.999, 999],
    [2, 100, 10_000, 0, 0],
  ])('retry %i with base %i and cap %i at random %f waits %i ms', (retry, base, cap, r, expected) => {
    expect(fullJitterDelay(retry, base, cap, () => r)).toBe(expected);
  });

  test('a retry-after within the cap is honoured, beyond it is refused', () => {
    expect(retryDelay(0, 100, 5000, 2000)).toBe(2000);
    expect(retryDelay(0, 100, 5000, 60_000)).toBeUndefined();
  });
});

describe('retry budget', () => {
  test('an outage spends the reserve and then about one retry per five requests', () => {
    const budget = new RetryBudget({ ratio: 0.2, minReserve: 10, maxTokens: 100 });
    let retries = 0;
    for (let i = 0; i < 1000; i++) {
      budget.deposit();
      if (budget.trySpend()) retries++;
    }
    expect(retries).toBeGreaterThanOrEqual(200);
    expect(retries).toBeLessThanOrEqual(211);
  });
});

describe('circuit breaker', () => {
  test('ejects after consecutive failures, for longer each time, and forgives after a success', () => {
    const breaker = new CircuitBreaker({ threshold: 2, baseEjectionMs: 1000, maxEjectionMs: 3000 });
    breaker.recordFailure(0);
    expect(breaker.isOpen(0)).toBe(false);
    breaker.recordFailure(0);
    expect(breaker.isOpen(999)).toBe(true);
    expect(breaker.isOpen(1000)).toBe(false);
    breaker.recordFailure(1000);
    breaker.recordFailure(1000);
    expect(breaker.isOpen(2999)).toBe(true);
    expect(breaker.isOpen(3000)).toBe(false);
    breaker.recordSuccess();
    breaker.recordFailure(5000);
    breaker.recordFailure(5000);
    expect(breaker.isOpen(5999)).toBe(true);
    expect(breaker.isOpen(6000)).toBe(false);
  });
});

describe('attempt order', () => {
  const b = (name: string, weight: number) => ({ name, config: { weight } });
  test('failover keeps the configured order', () => {
    expect(attemptOrder('failover', [b('a', 1), b('b', 9)], () => 0.99).map((x) => x.name)).toEqual(['a', 'b']);
  });
  test.each([
    [0.0, ['a', 'b', 'c']],
    [0.2, ['b', 'a', 'c']],
    [0.95, ['c', 'a', 'b']],
  ])('weighted at random %f picks %j', (r, expected) => {
    expect(attemptOrder('weighted', [b('a', 1), b('b', 3), b('c', 1)], () => r).map((x) => x.name)).toEqual(expected);
  });
  test('a zero-weight backend is only a fallback', () => {
    for (const r of [0, 0.5, 0.999]) expect(attemptOrder('weighted', [b('a', 0), b('b', 1)], () => r)[0]!.name).toBe('b');
  });
});

describe('OpenAI-dialect errors', () => {
  test.each([
    [{ 'retry-after-ms': '250' }, 250],
    [{ 'retry-after': '2' }, 2000],
    [{ 'retry-after': 'soon' }, undefined],
    [{}, undefined],
  ])('retry headers %j mean %s ms', (headers, ms) => {
    expect(retryAfterMs(headers)).toBe(ms);
  });

  test.each([
    [429, '{"error":{"message":"slow down","type":"requests","code":"rate_limit_exceeded"}}', true, 'rate_limited'],
    [429, '{"error":{"message":"pay up","type":"insufficient_quota","code":"insufficient_quota"}}', false, 'quota_exceeded'],
    [503, 'upstream connect error', true, 'overloaded'],
    [400, '{"object":"error","message":"bad","type":"invalid_request_error"}', false, 'invalid_request'],
  ])('HTTP %i %s is retryable=%s (%s)', (status, body, retryable, reason) => {
    const error = classifyOpenAIStyleError(status, {}, body);
    expect(error.retryable).toBe(retryable);
    expect(error.reason).toBe(reason);
    expect(Object.keys(error.body.error).sort()).toEqual(['code', 'message', 'param', 'type']);
  });
});

describe('refusals about the backend, not the request (failed over, never retried)', () => {
  const gemini = (status: number, grpc: string, reason?: string) => JSON.stringify({ error: { code: status, message: 'm', status: grpc, ...(reason ? { details: [{ reason }] } : {}) } });
  const anthropic = (type: string) => JSON.stringify({ type: 'error', error: { type, message: 'm' } });
  test.each([
    ['openai 401', classifyOpenAIStyleError(401, {}, '{"error":{"message":"bad key","code":"invalid_api_key"}}'), true],
    ['openai 404 model', classifyOpenAIStyleError(404, {}, '{"error":{"message":"no model","code":"model_not_found"}}'), true],
    ['deepseek 402 balance', classifyOpenAIStyleError(402, {}, '{"error":{"message":"Insufficient Balance"}}'), true],
    ['openai 429 insufficient_quota', classifyOpenAIStyleError(429, {}, '{"error":{"message":"pay","code":"insufficient_quota"}}'), true],
    ['anthropic billing_error', classifyAnthropicError(400, {}, anthropic('billing_error')), true],
    ['anthropic permission_error', classifyAnthropicError(403, {}, anthropic('permission_error')), true],
    ['gemini API_KEY_INVALID (a 400)', classifyGeminiError(400, {}, gemini(400, 'INVALID_ARGUMENT', 'API_KEY_INVALID')), true],
    ['gemini FAILED_PRECONDITION (billing, region)', classifyGeminiError(400, {}, gemini(400, 'FAILED_PRECONDITION')), true],
    ['openai 400', classifyOpenAIStyleError(400, {}, '{"error":{"message":"bad tools","param":"tools"}}'), false],
    ['openai 422', classifyOpenAIStyleError(422, {}, '{"error":{"message":"bad"}}'), false],
    ['mistral 422 validation', classifyOpenAIStyleError(422, {}, '{"detail":[{"loc":["body","seed"],"msg":"Extra inputs are not permitted"}]}'), false],
    ['anthropic invalid_request_error', classifyAnthropicError(400, {}, anthropic('invalid_request_error')), false],
    ['gemini INVALID_ARGUMENT', classifyGeminiError(400, {}, gemini(400, 'INVALID_ARGUMENT')), false],
  ])('%s: refused by the backend = %s', (_name, error, expected) => {
    expect(error.retryable).toBe(false);
    expect(refusedByBackend(error)).toBe(expected);
  });
});

describe('validation errors of OpenAI-dialect providers', () => {
  test.each([
    ['FastAPI detail (vLLM, DeepSeek)', '{"detail":[{"type":"extra_forbidden","loc":["body","seed"],"msg":"Extra inputs are not permitted"}]}'],
    ["Mistral's flat error with a detail message", '{"object":"error","message":{"detail":[{"type":"extra_forbidden","loc":["body","seed"],"msg":"Extra inputs are not permitted"}]},"type":"invalid_request_error","param":null,"code":null}'],
  ])('a 422 with %s is a 400 that says which field was refused', (_name, body) => {
    const error = classifyOpenAIStyleError(422, {}, body);
    expect(error.status).toBe(400);
    expect(error.body.error).toMatchObject({ type: 'invalid_request_error', message: 'body.seed: Extra inputs are not permitted' });
  });

  test("DeepSeek's 402 (insufficient balance) is insufficient_quota, not retried", () => {
    const error = classifyOpenAIStyleError(402, {}, '{"error":{"message":"Insufficient Balance","type":"unknown_error","param":null,"code":"invalid_request_error"}}');
    expect(error).toMatchObject({ status: 402, retryable: false, reason: 'quota_exceeded' });
    expect(classifyOpenAIStyleError(402, {}, '{"error":{"message":"Insufficient Balance"}}').body.error.code).toBe('insufficient_quota');
  });
});

describe('mistral tool-call ids', () => {
  test('are 9 alphanumerics, stable, and untouched when already valid', () => {
    expect(mistralToolCallId('call_abc')).toMatch(/^[A-Za-z0-9]{9}$/);
    expect(mistralToolCallId('call_abc')).toBe(mistralToolCallId('call_abc'));
    expect(mistralToolCallId('call_abc')).not.toBe(mistralToolCallId('call_abd'));
    expect(mistralToolCallId('Ab3dE6gH9')).toBe('Ab3dE6gH9');
  });
});

describe('OpenAI-dialect stream pass-through', () => {
  const target = { config: {}, baseURL: 'https://x', options: {}, apiKey: undefined } as unknown as BackendTarget;
  const chunk = (choices: unknown[], usage?: unknown) => JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices, ...(usage ? { usage } : {}) });
  const content = chunk([{ index: 0, delta: { content: 'hi' }, finish_reason: null }]);
  const last = chunk([{ index: 0, delta: {}, finish_reason: 'stop' }]);
  const usageOnly = chunk([], { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 });
  const filterFrame = JSON.stringify({ id: '', object: '', created: 0, model: '', choices: [], prompt_filter_results: [{ prompt_index: 0 }] });

  test('content passes through byte for byte; filter frames and unrequested usage are dropped; usage is still recorded', () => {
    const t = openaiAdapter.createStreamTranslator(target, { clientWantsUsage: false, clientModel: 'chat' });
    const out = [filterFrame, content, last, usageOnly, '[DONE]'].flatMap((data) => t.push({ data }));
    expect(out).toEqual([{ kind: 'chunk', json: content }, { kind: 'chunk', json: last }, { kind: 'done' }]);
    expect(t.usage()).toEqual({ prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 });
  });

  test('the usage chunk is forwarded when the client asked for it', () => {
    const t = openaiAdapter.createStreamTranslator(target, { clientWantsUsage: true, clientModel: 'chat' });
    expect(t.push({ data: usageOnly })).toEqual([{ kind: 'chunk', json: usageOnly }]);
  });

  test('a stream cut before any finish_reason ends with an error; one that finished without [DONE] ends normally', () => {
    const cut = openaiAdapter.createStreamTranslator(target, { clientWantsUsage: false, clientModel: 'chat' });
    cut.push({ data: content });
    expect(cut.end()[0]!.kind).toBe('error');
    const finished = openaiAdapter.createStreamTranslator(target, { clientWantsUsage: false, clientModel: 'chat' });
    finished.push({ data: last });
    expect(finished.end()).toEqual([{ kind: 'done' }]);
  });

  test("a provider's own finish reason is put in OpenAI's terms (Mistral's model_length is length); other chunks stay byte for byte", () => {
    const t = mistralAdapter.createStreamTranslator(target as never, { clientWantsUsage: false, clientModel: 'chat' });
    const [first] = t.push({ data: content });
    expect(first).toEqual({ kind: 'chunk', json: content });
    const [out] = t.push({ data: chunk([{ index: 0, delta: {}, finish_reason: 'model_length' }]) });
    expect(JSON.parse((out as { json: string }).json).choices[0].finish_reason).toBe('length');
    expect(t.summary().finishReasons).toEqual(['length']);
    // A reason named like an Object.prototype member is not looked up there.
    const odd = mistralAdapter.createStreamTranslator(target as never, { clientWantsUsage: false, clientModel: 'chat' });
    const oddChunk = chunk([{ index: 0, delta: {}, finish_reason: 'toString' }]);
    expect(odd.push({ data: oddChunk })).toEqual([{ kind: 'chunk', json: oddChunk }]);
  });

  test('an error payload ends the stream with that error', () => {
    const t = openaiAdapter.createStreamTranslator(target, { clientWantsUsage: false, clientModel: 'chat' });
    const [out] = t.push({ data: JSON.stringify({ error: { message: 'boom', type: 'server_error', code: 'x' } }) });
    expect(out).toMatchObject({ kind: 'error', error: { body: { error: { message: 'boom', code: 'x' } } } });
  });
});
