// Price lookup and the cost of one completion's usage. Pure.
import type { BackendConfig } from '../config/schema.ts';
import type { Usage } from '../openai/types.ts';
import { tokenCounts } from '../openai/usage.ts';
import { PRICE_TABLE, type LongPromptPrice, type Price } from './price-table.ts';

const sortedKeys = new Map<string, string[]>();

/** A provider's table keys, longest first, sorted once (this runs on every completion). */
function keysLongestFirst(provider: string): string[] {
  let keys = sortedKeys.get(provider);
  if (!keys) {
    keys = Object.keys(PRICE_TABLE[provider] ?? {}).sort((a, b) => b.length - a.length);
    sortedKeys.set(provider, keys);
  }
  return keys;
}

/**
 * What may follow a listed name and still be that model: a snapshot date (gpt-4o-2024-08-06,
 * claude-sonnet-4-5-20250929, qwen-max-2025-01-25), a version number (gemini-2.0-flash-001) or
 * `latest`. Anything else is another model, often at another price (claude-opus-4-5 is not
 * claude-opus-4, gpt-5-pro is not gpt-5): its cost is unknown rather than wrong.
 */
const SNAPSHOT_SUFFIX = /^-(?:\d{4}-\d{2}-\d{2}|\d{8}|\d{3,4}|latest)$/;

/** A price, with the prices of long prompts where the provider charges more for them. */
export type TieredPrice = Price & { longPrompt?: LongPromptPrice };

/**
 * The price of a provider's model: exact name first, then the longest table name followed by a
 * snapshot suffix (SNAPSHOT_SUFFIX). An override wins field by field; a complete override prices
 * even models the table does not know. An override also replaces the listed long-prompt prices:
 * a negotiated or self-hosted rate is the whole deal.
 */
export function priceOf(provider: string, model: string, override?: Partial<Price>): TieredPrice | undefined {
  const table = PRICE_TABLE[provider] ?? {};
  const name = model.toLowerCase().replace(/^models\//, '');
  let listed = table[name];
  if (!listed) {
    const prefix = keysLongestFirst(provider).find((key) => name.startsWith(key) && SNAPSHOT_SUFFIX.test(name.slice(key.length)));
    listed = prefix ? table[prefix] : undefined;
  }
  const merged = { ...(listed ?? {}), ...(override ?? {}) } as Partial<TieredPrice> & { checked?: string };
  if (merged.input === undefined || merged.output === undefined) return undefined;
  const { checked: _checked, longPrompt, ...price } = merged as TieredPrice & { checked?: string };
  return longPrompt && override === undefined ? { ...price, longPrompt } : price;
}

/** USD for a usage: uncached input, cache reads, cache writes, output (reasoning apart if priced apart). */
export function costOfUsage(usage: Usage, tiered: TieredPrice): number {
  const tokens = tokenCounts(usage);
  // prompt_tokens counts cache reads and writes too: the whole prompt decides the tier.
  const price: Price = tiered.longPrompt && tokens.input > tiered.longPrompt.aboveTokens ? tiered.longPrompt : tiered;
  const cached = tokens.cachedInput;
  const cacheWrite = tokens.cacheWrite;
  const uncached = Math.max(0, tokens.input - cached - cacheWrite);
  const reasoning = price.reasoning !== undefined ? tokens.reasoning : 0;
  const output = Math.max(0, tokens.output - reasoning);
  const perMillion =
    uncached * price.input +
    cached * (price.cachedInput ?? price.input) +
    cacheWrite * (price.cacheWrite ?? price.input) +
    output * price.output +
    reasoning * (price.reasoning ?? price.output);
  return Math.round((perMillion / 1_000_000) * 1e10) / 1e10;
}

/**
 * The cost of a usage on a backend (its pricing over the shipped table); undefined when unknown, or
 * when the upstream's token counts are absurd enough to overflow it (no `Infinity` in a header or a
 * counter: it is unpriced).
 */
export function backendCost(backend: Pick<BackendConfig, 'provider' | 'model' | 'pricing'>, usage: Usage): number | undefined {
  const override = backend.pricing ? (Object.fromEntries(Object.entries(backend.pricing).filter(([, v]) => v !== undefined)) as Partial<Price>) : undefined;
  const price = priceOf(backend.provider, backend.model, override);
  if (!price) return undefined;
  const cost = costOfUsage(usage, price);
  return Number.isFinite(cost) ? cost : undefined;
}
