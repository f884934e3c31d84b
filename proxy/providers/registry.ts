// Provider name -> adapter. Adding a provider is one new module and one line here.
import type { ProviderName } from '../config/schema.ts';
import type { ProviderAdapter } from './adapter.ts';
import { anthropicAdapter } from './anthropic/adapter.ts';
import { echoAdapter } from './echo.ts';
import { geminiAdapter } from './gemini/adapter.ts';
import { azureOpenAIAdapter, deepseekAdapter, mistralAdapter, openaiAdapter, qwenAdapter, selfHostedAdapter } from './openai-family.ts';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- each adapter has its own options type
type AnyAdapter = ProviderAdapter<any>;

const adapters: Partial<Record<ProviderName, AnyAdapter>> = {
  openai: openaiAdapter,
  'azure-openai': azureOpenAIAdapter,
  mistral: mistralAdapter,
  deepseek: deepseekAdapter,
  qwen: qwenAdapter,
  'openai-compatible': selfHostedAdapter,
  anthropic: anthropicAdapter,
  gemini: geminiAdapter,
  echo: echoAdapter,
};

export function adapterFor(provider: ProviderName): AnyAdapter | undefined {
  return adapters[provider];
}

type BackendAdapterFacts = { provider: ProviderName; baseURL?: string | undefined; options?: Record<string, unknown> | undefined };

export type AdapterBinding =
  | { ok: true; adapter: AnyAdapter; baseURL: string; options: Record<string, unknown> }
  | { ok: false; issues: Array<{ path: string; message: string }> };

/** A backend's adapter, validated options and base URL; or what only the adapter can see is wrong. */
export function bindAdapter(backend: BackendAdapterFacts): AdapterBinding {
  const adapter = adapterFor(backend.provider);
  if (!adapter) return { ok: false, issues: [{ path: 'provider', message: `provider ${backend.provider} is not supported by this proxy version` }] };
  const issues: Array<{ path: string; message: string }> = [];
  const parsed = adapter.optionsSchema.safeParse(backend.options ?? {});
  if (!parsed.success) {
    for (const issue of parsed.error.issues) issues.push({ path: ['options', ...issue.path.map(String)].join('.'), message: issue.message });
  }
  const optionDefault = parsed.success ? adapter.defaultBaseURLFor?.(parsed.data) : undefined;
  const baseURL = (backend.baseURL ?? optionDefault ?? adapter.defaultBaseURL)?.replace(/\/+$/, '');
  if (!baseURL) issues.push({ path: 'baseURL', message: `provider ${backend.provider} has no default base URL; set baseURL` });
  else {
    const problem = adapter.baseURLProblem?.(baseURL);
    if (problem) issues.push({ path: 'baseURL', message: problem });
  }
  if (issues.length > 0 || !baseURL || !parsed.success) return { ok: false, issues };
  return { ok: true, adapter, baseURL, options: parsed.data as Record<string, unknown> };
}
