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

/** A count as the upstream reported it: upstream JSON, so anything but a non-negative finite number is 0. */
const count = (value: unknown): number => (typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : 0);

export function tokenCounts(usage: Usage): TokenCounts {
  const deepseekHits = (usage as { prompt_cache_hit_tokens?: unknown }).prompt_cache_hit_tokens;
  return {
    input: count(usage.prompt_tokens),
    output: count(usage.completion_tokens),
    cachedInput: count(usage.prompt_tokens_details?.cached_tokens ?? deepseekHits),
    cacheWrite: count(usage.prompt_tokens_details?.cache_creation_tokens),
    reasoning: count(usage.completion_tokens_details?.reasoning_tokens),
  };
}
