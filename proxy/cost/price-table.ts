// List prices shipped with the product, in USD per million tokens. These are the providers'
// published list prices as known on the `checked` date; negotiated rates and self-hosted costs go in
// a backend's `pricing` (which wins field by field). A model missing here has an unknown cost,
// reported as unknown, never as zero.
export interface Price {
  input: number;
  /** Cache reads (OpenAI cached input, Anthropic cache_read, Gemini cached content). */
  cachedInput?: number;
  /** Anthropic cache writes (cache_creation_input_tokens). */
  cacheWrite?: number;
  output: number;
  /** Only where reasoning is billed apart from output. */
  reasoning?: number;
}

/**
 * Prices of a request whose prompt (fresh input, cache reads and cache writes) is longer than
 * `aboveTokens`: they apply to every token of that request, output included (Gemini 2.5 Pro above
 * 200k, Claude Haiku 5.5 above 100k).
 */
export interface LongPromptPrice extends Price {
  aboveTokens: number;
}

export interface PriceEntry extends Price {
  checked: string;
  longPrompt?: LongPromptPrice;
}

type Table = Readonly<Record<string, PriceEntry>>;

const GEMINI_3_PRO_LONG: LongPromptPrice = { aboveTokens: 200_000, input: 4, cachedInput: 0.4, output: 18 };

const OPENAI: Table = {
  // GPT-5.x: OpenAI's pricing page as summarised by three independent third-party write-ups that cite it
  // (api-evangelist, read 2026-11-05; benchlm.ai; morphllm.com), which agree: verify on upgrade. The -pro
  // models have no cached-input price. GPT-5.4 costs more above 272k prompt tokens (not modelled here:
  // how the surcharge applies could not be read first-hand).
  'gpt-5.5': { input: 5, cachedInput: 0.5, output: 30, checked: '2026-12-03' },
  'gpt-5.5-pro': { input: 30, output: 180, checked: '2026-12-03' },
  'gpt-5.4': { input: 2.5, cachedInput: 0.25, output: 15, checked: '2026-12-03' },
  'gpt-5.4-mini': { input: 0.75, cachedInput: 0.075, output: 4.5, checked: '2026-12-03' },
  'gpt-5.4-nano': { input: 0.2, cachedInput: 0.02, output: 1.25, checked: '2026-12-03' },
  'gpt-5.4-pro': { input: 30, output: 180, checked: '2026-12-03' },
  'gpt-5.2': { input: 1.75, cachedInput: 0.175, output: 14, checked: '2026-12-03' },
  'gpt-5.2-pro': { input: 21, output: 168, checked: '2026-12-03' },
  'gpt-5.1': { input: 1.25, cachedInput: 0.125, output: 10, checked: '2026-12-03' },
  'gpt-5-pro': { input: 15, output: 120, checked: '2026-12-03' },
  'gpt-4o': { input: 2.5, cachedInput: 1.25, output: 10, checked: '2025-08-01' },
  'gpt-4o-mini': { input: 0.15, cachedInput: 0.075, output: 0.6, checked: '2025-08-01' },
  'gpt-4.1': { input: 2, cachedInput: 0.5, output: 8, checked: '2025-08-01' },
  'gpt-4.1-mini': { input: 0.4, cachedInput: 0.1, output: 1.6, checked: '2025-08-01' },
  'gpt-4.1-nano': { input: 0.1, cachedInput: 0.025, output: 0.4, checked: '2025-08-01' },
  o3: { input: 2, cachedInput: 0.5, output: 8, checked: '2025-08-01' },
  'o4-mini': { input: 1.1, cachedInput: 0.275, output: 4.4, checked: '2025-08-01' },
  'gpt-5': { input: 1.25, cachedInput: 0.125, output: 10, checked: '2025-08-07' },
  'gpt-5-mini': { input: 0.25, cachedInput: 0.025, output: 2, checked: '2025-08-07' },
  'gpt-5-nano': { input: 0.05, cachedInput: 0.005, output: 0.4, checked: '2025-08-07' },
  'text-embedding-3-small': { input: 0.02, output: 0, checked: '2025-08-01' },
  'text-embedding-3-large': { input: 0.13, output: 0, checked: '2025-08-01' },
};

export const PRICE_TABLE: Readonly<Record<string, Table>> = {
  openai: OPENAI,
  'azure-openai': OPENAI, // Azure's global deployments list the same prices; regional ones differ: override
  anthropic: {
    // platform.claude.com/docs/en/about-claude/pricing (Anthropic's model pricing table) for Fable,
    // Mythos, Opus 4-5 and the 4.x Opus line; the Claude 5 model pages for the input/output prices of
    // Opus 5.5, Sonnet 5.5, Sonnet 5 and Haiku 5.5. Cache writes are 1.25x input (5-minute cache; a
    // 1-hour write costs 2x and is reported by Anthropic in the same counter, so it is under-priced
    // here). Cache reads of Opus 5.5, Sonnet 5.5 (cut to 0.05x on 2026-10-07), Haiku 5.5's tiers and
    // Fable/Mythos 5.2 are from third-party price trackers that cite that page: verify on upgrade.
    'claude-fable-5-2': { input: 8, cachedInput: 0.2, cacheWrite: 10, output: 40, checked: '2026-12-03' },
    'claude-mythos-5-2': { input: 8, cachedInput: 0.2, cacheWrite: 10, output: 40, checked: '2026-12-03' },
    'claude-fable-5-1': { input: 10, cachedInput: 0.25, cacheWrite: 12.5, output: 50, checked: '2026-12-03' },
    'claude-mythos-5-1': { input: 10, cachedInput: 0.25, cacheWrite: 12.5, output: 50, checked: '2026-12-03' },
    'claude-fable-5': { input: 10, cachedInput: 1, cacheWrite: 12.5, output: 50, checked: '2026-12-03' },
    'claude-mythos-5': { input: 10, cachedInput: 1, cacheWrite: 12.5, output: 50, checked: '2026-12-03' },
    'claude-opus-5-5': { input: 4, cachedInput: 0.2, cacheWrite: 5, output: 20, checked: '2026-12-03' },
    'claude-opus-5': { input: 5, cachedInput: 0.5, cacheWrite: 6.25, output: 25, checked: '2026-12-03' },
    'claude-opus-4-8': { input: 5, cachedInput: 0.5, cacheWrite: 6.25, output: 25, checked: '2026-12-03' },
    'claude-opus-4-7': { input: 5, cachedInput: 0.5, cacheWrite: 6.25, output: 25, checked: '2026-12-03' },
    'claude-opus-4-6': { input: 5, cachedInput: 0.5, cacheWrite: 6.25, output: 25, checked: '2026-12-03' },
    'claude-opus-4-5': { input: 5, cachedInput: 0.5, cacheWrite: 6.25, output: 25, checked: '2026-12-03' },
    'claude-opus-4-1': { input: 15, cachedInput: 1.5, cacheWrite: 18.75, output: 75, checked: '2026-12-03' },
    'claude-opus-4': { input: 15, cachedInput: 1.5, cacheWrite: 18.75, output: 75, checked: '2026-12-03' },
    'claude-sonnet-5-5': { input: 2, cachedInput: 0.1, cacheWrite: 2.5, output: 10, checked: '2026-12-03' },
    'claude-sonnet-5': { input: 2, cachedInput: 0.2, cacheWrite: 2.5, output: 10, checked: '2026-12-03' },
    'claude-sonnet-4-5': { input: 3, cachedInput: 0.3, cacheWrite: 3.75, output: 15, checked: '2025-09-29' },
    'claude-sonnet-4': { input: 3, cachedInput: 0.3, cacheWrite: 3.75, output: 15, checked: '2025-08-05' },
    'claude-haiku-5-5': {
      input: 0.1, cachedInput: 0.01, cacheWrite: 0.125, output: 0.5, checked: '2026-12-03',
      longPrompt: { aboveTokens: 100_000, input: 0.5, cachedInput: 0.05, cacheWrite: 0.625, output: 2.5 },
    },
    'claude-haiku-4-5': { input: 1, cachedInput: 0.1, cacheWrite: 1.25, output: 5, checked: '2025-10-15' },
    'claude-3-5-haiku': { input: 0.8, cachedInput: 0.08, cacheWrite: 1, output: 4, checked: '2025-08-05' },
  },
  gemini: {
    // Gemini 2.5 Pro's prices rise above 200k prompt tokens (input 2.50, cache reads 0.25, output 15).
    // Context-cache reads are 10% of input since implicit caching (2025): 2.5 Pro 0.125 as Google's
    // own forum quotes the pricing page (discuss.ai.google.dev/t/107349); Flash and Flash-Lite follow
    // the same ratio. The pricing page itself could not be fetched from here: verify on upgrade.
    // Gemini 3.x preview models: Google's pricing page as factquire.com records it (quoted, read there
    // 2026-07-04) and as write-ups from 2026-03 that recheck it agree: 3.1 Pro 2/12 up to 200k prompt
    // tokens and 4/18 above, cache reads 0.20/0.40; gemini-3-pro-preview was shut down on 2026-03-09
    // and now answers as 3.1 Pro; -customtools is the same model for agents. 3.1 Flash-Lite's
    // cache-read price was not found: its cached tokens are priced as input (an upper bound).
    'gemini-3.1-pro-preview': { input: 2, cachedInput: 0.2, output: 12, checked: '2026-12-04', longPrompt: GEMINI_3_PRO_LONG },
    'gemini-3.1-pro-preview-customtools': { input: 2, cachedInput: 0.2, output: 12, checked: '2026-12-04', longPrompt: GEMINI_3_PRO_LONG },
    'gemini-3-pro-preview': { input: 2, cachedInput: 0.2, output: 12, checked: '2026-12-04', longPrompt: GEMINI_3_PRO_LONG },
    'gemini-3-flash-preview': { input: 0.5, cachedInput: 0.05, output: 3, checked: '2026-12-04' },
    'gemini-3.1-flash-lite-preview': { input: 0.25, output: 1.5, checked: '2026-12-04' },
    'gemini-2.5-pro': {
      input: 1.25, cachedInput: 0.125, output: 10, checked: '2026-11-25',
      longPrompt: { aboveTokens: 200_000, input: 2.5, cachedInput: 0.25, output: 15 },
    },
    'gemini-2.5-flash': { input: 0.3, cachedInput: 0.03, output: 2.5, checked: '2026-11-25' },
    'gemini-2.5-flash-lite': { input: 0.1, cachedInput: 0.01, output: 0.4, checked: '2026-11-25' },
    'gemini-2.0-flash': { input: 0.1, cachedInput: 0.025, output: 0.4, checked: '2025-08-01' },
  },
  mistral: {
    // The -latest aliases of Large and Medium moved to newer models at other prices (Large 3, 2512:
    // 0.50/1.50 where Large 2 was 2/6; Medium 3.5 is quoted at 1.50/7.50 where Medium 3 was 0.40/2), so
    // they are not listed: which model answers them is Mistral's choice at request time. Dated names
    // are. Sources: Vercel AI Gateway's model page (billed at Mistral's API rates), puter.com's
    // 2026-06 breakdown and tokenmix.ai's 2026-04 table; write-ups that price Large 3 at 2/6 describe
    // Large 2's price. Small and Codestral agree across them.
    'mistral-large-2512': { input: 0.5, output: 1.5, checked: '2026-12-04' },
    'mistral-large-2411': { input: 2, output: 6, checked: '2026-12-04' },
    'mistral-medium-2505': { input: 0.4, output: 2, checked: '2026-12-04' },
    'mistral-small-latest': { input: 0.1, output: 0.3, checked: '2026-12-04' },
    'codestral-latest': { input: 0.3, output: 0.9, checked: '2026-12-04' },
  },
  deepseek: {
    // DeepSeek's pricing page as three independent write-ups quote it (tokenmix.ai checked 2026-04-30,
    // devtk.ai updated 2026-05-24, chat-deep.ai): V4 models; cache hits cut to a tenth on 2026-04-26;
    // V4 Pro's 75%-off price made its list price after 2026-05-31. deepseek-chat and deepseek-reasoner
    // were aliases of V4 Flash (non-thinking, thinking) until their retirement after 2026-07-24.
    'deepseek-v4-flash': { input: 0.14, cachedInput: 0.0028, output: 0.28, checked: '2026-12-03' },
    'deepseek-v4-pro': { input: 0.435, cachedInput: 0.003625, output: 0.87, checked: '2026-12-03' },
    'deepseek-chat': { input: 0.14, cachedInput: 0.0028, output: 0.28, checked: '2026-12-03' },
    'deepseek-reasoner': { input: 0.14, cachedInput: 0.0028, output: 0.28, checked: '2026-12-03' },
  },
  qwen: {
    'qwen-max': { input: 1.6, output: 6.4, checked: '2025-08-01' },
    'qwen-plus': { input: 0.4, output: 1.2, checked: '2025-08-01' },
    'qwen-turbo': { input: 0.05, output: 0.2, checked: '2025-08-01' },
  },
};
