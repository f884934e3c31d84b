import { describe, expect, test } from '@jest/globals';
import { backendCost, costOfUsage, priceOf } from '#proxy/cost/cost.ts';
import { PRICE_TABLE } from '#proxy/cost/price-table.ts';
import type { Usage } from '#proxy/openai/types.ts';

describe('prices', () => {
  test('dated snapshots match the longest listed prefix; unknown models have no price (not zero)', () => {
    expect(priceOf('openai', 'gpt-4o-2024-08-06')).toEqual({ input: 2.5, cachedInput: 1.25, output: 10 });
    expect(priceOf('openai', 'gpt-4o-mini-2024-07-18')?.input).toBe(0.15);
    expect(priceOf('anthropic', 'claude-sonnet-4-5-20250929')?.output).toBe(15);
    expect(priceOf('openai', 'gpt-9')).toBeUndefined();
    expect(priceOf('openai-compatible', 'llama-3.1-70b')).toBeUndefined();
  });

  test('only a snapshot suffix (date, version number, latest) extends a listed name: another model is unknown, not mispriced', () => {
    expect(priceOf('anthropic', 'claude-3-5-haiku-20241022')?.input).toBe(0.8);
    expect(priceOf('gemini', 'gemini-2.0-flash-001')?.input).toBe(0.1);
    expect(priceOf('openai', 'gpt-4o-latest')?.input).toBe(2.5);
    // A variant or successor is a different model with a different price.
    expect(priceOf('openai', 'gpt-4o-audio-preview')).toBeUndefined();
    expect(priceOf('openai', 'gpt-4o-mini-search-preview-2025-03-11')).toBeUndefined();
    expect(priceOf('anthropic', 'claude-opus-4-99')).toBeUndefined();
    expect(priceOf('openai', 'gpt-5-codex')).toBeUndefined();
    expect(priceOf('openai', 'gpt-5-pro')).toMatchObject({ input: 15, output: 120 });
  });

  test('a backend override wins field by field; a complete override prices a self-hosted model', () => {
    expect(priceOf('openai', 'gpt-4o', { input: 2 })).toEqual({ input: 2, cachedInput: 1.25, output: 10 });
    expect(priceOf('openai-compatible', 'llama', { input: 0.05, output: 0.1 })).toEqual({ input: 0.05, output: 0.1 });
    expect(priceOf('openai-compatible', 'llama', { input: 0.05 })).toBeUndefined();
  });

  test('every table entry has input and output prices and a checked date', () => {
    for (const table of Object.values(PRICE_TABLE)) {
      for (const [model, entry] of Object.entries(table)) {
        expect([model, entry.input >= 0 && entry.output >= 0 && /^\d{4}-\d{2}-\d{2}$/.test(entry.checked)]).toEqual([model, true]);
      }
    }
  });
});

describe('cost of a usage', () => {
  test('OpenAI: cached input billed at the cached rate', () => {
    // 1000 prompt of which 400 cached, 200 output on gpt-4o: 600*2.5 + 400*1.25 + 200*10 = 4000 per 1M
    expect(backendCost({ provider: 'openai', model: 'gpt-4o' }, { prompt_tokens: 1000, completion_tokens: 200, total_tokens: 1200, prompt_tokens_details: { cached_tokens: 400 } })).toBeCloseTo(0.004, 10);
  });

  test('token counts so large the cost overflows are unpriced, never Infinity', () => {
    expect(backendCost({ provider: 'openai', model: 'gpt-4o' }, { prompt_tokens: 1e308, completion_tokens: 1, total_tokens: 1e308 })).toBeUndefined();
  });

  test('DeepSeek: prompt_cache_hit_tokens are cache reads', () => {
    const price = { input: 0.28, cachedInput: 0.028, output: 0.42 };
    const usage = { prompt_tokens: 1000, completion_tokens: 100, total_tokens: 1100, prompt_cache_hit_tokens: 800, prompt_cache_miss_tokens: 200 } as Usage;
    expect(costOfUsage(usage, price)).toBeCloseTo((200 * 0.28 + 800 * 0.028 + 100 * 0.42) / 1e6, 12);
  });

  test('Anthropic: cache reads and writes priced apart from fresh input', () => {
    // claude-sonnet-4-5: 410 fresh*3 + 1200 read*0.3 + 100 write*3.75 + 38 out*15 = 1230+360+375+570 = 2535 per 1M
    const usage = { prompt_tokens: 1710, completion_tokens: 38, total_tokens: 1748, prompt_tokens_details: { cached_tokens: 1200, cache_creation_tokens: 100 } };
    expect(backendCost({ provider: 'anthropic', model: 'claude-sonnet-4-5' }, usage)).toBeCloseTo(0.002535, 10);
  });

  test('Gemini: thinking tokens are output tokens (billed at the output rate)', () => {
    // gemini-2.5-flash: 95 in*0.3 + (9+40) out*2.5 = 28.5 + 122.5 = 151 per 1M
    const usage = { prompt_tokens: 95, completion_tokens: 49, total_tokens: 144, completion_tokens_details: { reasoning_tokens: 40 } };
    expect(backendCost({ provider: 'gemini', model: 'gemini-2.5-flash' }, usage)).toBeCloseTo(0.000151, 10);
  });

  test('reasoning priced apart when a price says so', () => {
    expect(costOfUsage({ prompt_tokens: 0, completion_tokens: 100, total_tokens: 100, completion_tokens_details: { reasoning_tokens: 60 } }, { input: 1, output: 10, reasoning: 20 })).toBeCloseTo((40 * 10 + 60 * 20) / 1e6, 10);
  });

  test('long prompts: past the threshold every token of the request is billed at the long-prompt prices', () => {
    // claude-haiku-5-5 up to 100k prompt tokens: 0.10 in, 0.50 out; above: 0.50 in, 0.05 cache read, 2.50 out.
    const short = { prompt_tokens: 100_000, completion_tokens: 1000, total_tokens: 101_000 };
    expect(backendCost({ provider: 'anthropic', model: 'claude-haiku-5-5' }, short)).toBeCloseTo((100_000 * 0.1 + 1000 * 0.5) / 1e6, 10);
    const long = { prompt_tokens: 150_000, completion_tokens: 1000, total_tokens: 151_000, prompt_tokens_details: { cached_tokens: 50_000 } };
    expect(backendCost({ provider: 'anthropic', model: 'claude-haiku-5-5' }, long)).toBeCloseTo((100_000 * 0.5 + 50_000 * 0.05 + 1000 * 2.5) / 1e6, 10);
    // gemini-2.5-pro above 200k: 2.50 in, 15 out (thinking tokens are output).
    const gemini = { prompt_tokens: 250_000, completion_tokens: 2000, total_tokens: 252_000, completion_tokens_details: { reasoning_tokens: 1500 } };
    expect(backendCost({ provider: 'gemini', model: 'gemini-2.5-pro' }, gemini)).toBeCloseTo((250_000 * 2.5 + 2000 * 15) / 1e6, 10);
  });

  test('Gemini 3.x preview models: priced by their exact names, 3.1 Pro with its long-prompt tier', () => {
    // gemini-3.1-pro-preview up to 200k: 2 in, 0.20 cache read, 12 out; above: 4 in, 0.40 cache read, 18 out.
    const short = { prompt_tokens: 100_000, completion_tokens: 1000, total_tokens: 101_000, prompt_tokens_details: { cached_tokens: 40_000 } };
    expect(backendCost({ provider: 'gemini', model: 'gemini-3.1-pro-preview' }, short)).toBeCloseTo((60_000 * 2 + 40_000 * 0.2 + 1000 * 12) / 1e6, 10);
    const long = { prompt_tokens: 300_000, completion_tokens: 1000, total_tokens: 301_000, prompt_tokens_details: { cached_tokens: 100_000 } };
    expect(backendCost({ provider: 'gemini', model: 'gemini-3.1-pro-preview' }, long)).toBeCloseTo((200_000 * 4 + 100_000 * 0.4 + 1000 * 18) / 1e6, 10);
    expect(priceOf('gemini', 'gemini-3-flash-preview')).toMatchObject({ input: 0.5, cachedInput: 0.05, output: 3 });
    // A preview name is not a snapshot of the 2.5 models, nor is an unlisted 3.x variant priced by a namesake.
    expect(priceOf('gemini', 'gemini-3-pro-image-preview')).toBeUndefined();
  });

  test('Mistral: a -latest alias that moved to a differently priced model is unknown; dated models are priced', () => {
    expect(priceOf('mistral', 'mistral-large-latest')).toBeUndefined();
    expect(priceOf('mistral', 'mistral-large-2512')).toMatchObject({ input: 0.5, output: 1.5 });
    expect(priceOf('mistral', 'mistral-large-2411')).toMatchObject({ input: 2, output: 6 });
    expect(backendCost({ provider: 'mistral', model: 'mistral-medium-latest' }, { prompt_tokens: 10, completion_tokens: 10, total_tokens: 20 })).toBeUndefined();
  });

  test('an override is the whole deal: it replaces the listed long-prompt prices', () => {
    const long = { prompt_tokens: 150_000, completion_tokens: 0, total_tokens: 150_000 };
    expect(backendCost({ provider: 'anthropic', model: 'claude-haiku-5-5', pricing: { input: 0.08 } }, long)).toBeCloseTo((150_000 * 0.08) / 1e6, 10);
  });

  test('newer Claude models carry their own prices, not an older namesake\'s', () => {
    expect(priceOf('anthropic', 'claude-opus-4-5')).toMatchObject({ input: 5, output: 25 });
    expect(priceOf('anthropic', 'claude-opus-4-1-20250805')).toMatchObject({ input: 15, output: 75 });
  });

  test('unknown price is undefined, never 0', () => {
    expect(backendCost({ provider: 'openai-compatible', model: 'mystery' }, { prompt_tokens: 10, completion_tokens: 10, total_tokens: 20 })).toBeUndefined();
  });
});

describe('usage an upstream reports wrongly', () => {
  test('counts that are not non-negative numbers count as 0: metrics and cost never throw on them', async () => {
    const { ProxyMetrics } = await import('#proxy/telemetry/metrics.ts');
    const { createObserver } = await import('#proxy/telemetry/observer.ts');
    const junk = { prompt_tokens: '100', completion_tokens: -3, total_tokens: null, prompt_tokens_details: { cached_tokens: Number.NaN } } as unknown as Parameters<typeof backendCost>[1];
    const backend = { name: 'b', provider: 'openai', model: 'gpt-4o', credentials: { kind: 'none' } } as never;
    const observer = createObserver({ metrics: new ProxyMetrics(), costOf: backendCost });
    const request = observer.startRequest({ requestId: 'r', operation: 'chat', httpRoute: '/v1/chat/completions', headers: {} });
    const attempt = request.startAttempt({ backend, providerName: 'openai', serverAddress: 'h', serverPort: 443, attempt: 1, reason: 'initial' });
    expect(() => attempt.end({ outcome: 'success', status: 200, usage: junk })).not.toThrow();
    expect(backendCost(backend, junk)).toBe(0);
  });
});
