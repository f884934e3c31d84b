// Gemini error details that decide what happens next: the wait it asks for (google.rpc.RetryInfo, as
// it sends no Retry-After), a spent daily quota (no retry helps today), a prompt over the context window.
import { describe, expect, test } from '@jest/globals';
import { classifyGeminiError } from '#proxy/providers/gemini/errors.ts';

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
