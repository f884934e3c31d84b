// Gemini error details that decide what happens next: the wait it asks for (google.rpc.RetryInfo, as
// it sends no Retry-After), a spent daily quota (no retry helps today), a prompt over the context window.
import { describe, expect, test } from '@jest/globals';
import { classifyGeminiError } from '#proxy/providers/gemini/errors.ts';
import { geminiRequestBody, SKIP_SIGNATURE } from '#proxy/providers/gemini/request.ts';
import { ThoughtSignatureStore } from '#proxy/providers/gemini/thought-signatures.ts';

const exhausted = (details: unknown[]) => JSON.stringify({ error: { code: 429, message: 'You exceeded your current quota.', status: 'RESOURCE_EXHAUSTED', details } });

describe('gemini errors', () => {
  test.each([['37s', 37_000], ['45.837906927s', 45_838]])('a rate limit with RetryInfo %s waits that long (breaker, backoff, the client\'s Retry-After)', (retryDelay, ms) => {
    const error = classifyGeminiError(429, {}, exhausted([
      { '@type': 'type.googleapis.com/google.rpc.QuotaFailure', violations: [{ quotaMetric: 'generativelanguage.googleapis.com/generate_content_free_tier_requests', quotaId: 'GenerateRequestsPerMinutePerProjectPerModel-FreeTier' }] },
      { '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay },
    ]));
    expect(error).toMatchObject({ status: 429, retryable: true, retryAfterMs: ms });
  });

  test('a Retry-After header, when there is one, wins over RetryInfo', () => {
    const error = classifyGeminiError(429, { 'retry-after': '5' }, exhausted([{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '37s' }]));
    expect(error.retryAfterMs).toBe(5000);
  });

  test('a spent per-day quota is not retried (another backend may still answer)', () => {
    const error = classifyGeminiError(429, {}, exhausted([
      { '@type': 'type.googleapis.com/google.rpc.QuotaFailure', violations: [{ quotaId: 'GenerateRequestsPerDayPerProjectPerModel-FreeTier' }] },
      { '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '20000s' },
    ]));
    expect(error).toMatchObject({ status: 429, retryable: false, reason: 'quota_exceeded' });
    expect(error.body.error.code).toBe('insufficient_quota');
    expect(error.retryAfterMs).toBeUndefined();
  });

  test('a prompt over the context window has OpenAI\'s code for it', () => {
    const error = classifyGeminiError(400, {}, JSON.stringify({ error: { code: 400, message: 'The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).', status: 'INVALID_ARGUMENT' } }));
    expect(error).toMatchObject({ status: 400, retryable: false });
    expect(error.body.error.code).toBe('context_length_exceeded');
  });

  test('details that are not objects are ignored, not thrown on', () => {
    const error = classifyGeminiError(429, {}, exhausted([null, 'x', 7, { retryDelay: 12 }]));
    expect(error).toMatchObject({ status: 429, retryable: true });
    expect(error.retryAfterMs).toBeUndefined();
  });
});

describe('gemini request: reasoning_effort per model generation', () => {
  const thinkingOf = (model: string, effort: string) => {
    const body = geminiRequestBody({ model: 'chat', reasoning_effort: effort as never, messages: [{ role: 'user', content: 'Prove it.' }] }, { toolSchemaField: 'parametersJsonSchema', signatures: new ThoughtSignatureStore(), model, issuer: `g ${model}` });
    return (body.generationConfig as { thinkingConfig?: unknown } | undefined)?.thinkingConfig;
  };

  test('Gemini 3 and later take a thinking level; Pro knows only low and high', () => {
    expect(['none', 'minimal', 'low', 'medium', 'high', 'xhigh'].map((e) => thinkingOf('gemini-3-pro-preview', e))).toEqual(
      ['low', 'low', 'low', 'high', 'high', 'high'].map((thinkingLevel) => ({ thinkingLevel })),
    );
    expect(['none', 'minimal', 'low', 'medium', 'high', 'xhigh'].map((e) => thinkingOf('gemini-3-flash-preview', e))).toEqual(
      ['minimal', 'minimal', 'low', 'medium', 'high', 'high'].map((thinkingLevel) => ({ thinkingLevel })),
    );
    expect(thinkingOf('gemini-3.1-pro-preview', 'none')).toEqual({ thinkingLevel: 'low' });
    expect(thinkingOf('publishers/google/models/gemini-3-flash', 'medium')).toEqual({ thinkingLevel: 'medium' });
  });

  test('Gemini 2.5 takes a budget; Pro cannot stop thinking, so none is its least budget rather than a refused 0', () => {
    expect(thinkingOf('gemini-2.5-pro', 'none')).toEqual({ thinkingBudget: 128 });
    expect(thinkingOf('gemini-2.5-pro', 'xhigh')).toEqual({ thinkingBudget: 32768 });
    expect(thinkingOf('gemini-2.5-flash', 'none')).toEqual({ thinkingBudget: 0 });
    expect(thinkingOf('gemini-2.5-flash-lite', 'high')).toEqual({ thinkingBudget: 24576 });
    expect(thinkingOf('gemini-2.5-flash', 'xhigh')).toEqual({ thinkingBudget: 24576 }); // Flash's most
  });

  test('a name that shows no version gets a budget (every thinking generation takes one), never 0: none sends nothing', () => {
    expect(thinkingOf('gemini-flash-latest', 'low')).toEqual({ thinkingBudget: 1024 });
    expect(thinkingOf('gemini-pro-latest', 'high')).toEqual({ thinkingBudget: 24576 });
    for (const model of ['gemini-pro-latest', 'gemini-exp-1206', 'projects/p/locations/europe-west4/endpoints/123']) expect(thinkingOf(model, 'minimal')).toBeUndefined();
  });

  test('Gemini 2.0 and older do not think: nothing is sent (either field is a 400 there)', () => {
    expect(thinkingOf('gemini-2.0-flash', 'high')).toBeUndefined();
    expect(thinkingOf('gemini-1.5-pro-002', 'low')).toBeUndefined();
    expect(thinkingOf('gemini-2.5-pro-preview-06-05', 'none')).toEqual({ thinkingBudget: 128 });
  });

  test('an effort Gemini has no equivalent of sets nothing', () => {
    expect(thinkingOf('gemini-2.5-flash', 'extreme')).toBeUndefined();
  });
});

describe('gemini request: a replayed tool call whose thought signature the proxy no longer has', () => {
  const replay = {
    model: 'chat',
    messages: [
      { role: 'user' as const, content: 'Weather in Paris and Rome?' },
      { role: 'assistant' as const, content: null, tool_calls: [
        { id: 'call_a', type: 'function' as const, function: { name: 'weather', arguments: '{"city":"Paris"}' } },
        { id: 'call_b', type: 'function' as const, function: { name: 'weather', arguments: '{"city":"Rome"}' } },
      ] },
      { role: 'tool' as const, tool_call_id: 'call_a', content: '21C' },
      { role: 'tool' as const, tool_call_id: 'call_b', content: '25C' },
    ],
  };
  const signaturesOf = (model: string, store = new ThoughtSignatureStore()) => {
    const body = geminiRequestBody(replay, { toolSchemaField: 'parametersJsonSchema', signatures: store, model, issuer: `https://generativelanguage.googleapis.com ${model}` });
    const turn = (body.contents as Array<{ role: string; parts: Array<{ thoughtSignature?: string }> }>).find((c) => c.role === 'model')!;
    return turn.parts.map((p) => p.thoughtSignature);
  };

  test("Gemini 3 gets Google's documented stand-in on the first call (the one it signs and checks), after a restart or a loop begun elsewhere", () => {
    expect(signaturesOf('gemini-3-flash-preview')).toEqual([SKIP_SIGNATURE, undefined]);
  });

  test('a signature the proxy kept is sent back as it came; Gemini 2.5 gets no stand-in', () => {
    const store = new ThoughtSignatureStore();
    store.remember('call_a', { signature: 'c2lnbmVk', issuer: 'https://generativelanguage.googleapis.com gemini-3-pro-preview' });
    expect(signaturesOf('gemini-3-pro-preview', store)).toEqual(['c2lnbmVk', undefined]);
    expect(signaturesOf('gemini-2.5-flash')).toEqual([undefined, undefined]);
  });

  test('a signature goes back only to the model that signed it: a turn failed over to another model gets the stand-in', () => {
    const store = new ThoughtSignatureStore();
    store.remember('call_a', { signature: 'c2lnbmVk', issuer: 'https://generativelanguage.googleapis.com gemini-3-pro-preview' });
    expect(signaturesOf('gemini-3-flash-preview', store)).toEqual([SKIP_SIGNATURE, undefined]);
    expect(signaturesOf('gemini-2.5-pro', store)).toEqual([undefined, undefined]);
  });
});
