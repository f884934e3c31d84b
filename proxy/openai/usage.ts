// Token counts of an OpenAI-shaped usage, by type, for cost, metrics, logs and spans: one reading of
// the fields in one place. DeepSeek reports cache hits as `prompt_cache_hit_tokens` instead of
// `prompt_tokens_details.cached_tokens`; both mean input tokens read from the provider's cache.
import type { Usage } from './types.ts';

export interface TokenCounts {
  /** All input tokens, cached ones included (OpenAI's meaning of prompt_tokens). */
  input: number;
  /** All output tokens, reasoning included. */
  output: number;
  cachedInput: number;
  cacheWrite: number;
  reasoning: number;
}

export function tokenCounts(usage: Usage): TokenCounts {
  const deepseekHits = (usage as { prompt_cache_hit_tokens?: unknown }).prompt_cache_hit_tokens;
  return {
    input: usage.prompt_tokens,
    output: usage.completion_tokens,
    cachedInput: usage.prompt_tokens_details?.cached_tokens ?? (typeof deepseekHits === 'number' ? deepseekHits : 0),
    cacheWrite: usage.prompt_tokens_details?.cache_creation_tokens ?? 0,
    reasoning: usage.completion_tokens_details?.reasoning_tokens ?? 0,
  };
}
