// The OpenAI-dialect providers, as data over the shared base (openai-compatible.ts).
import { nodeCrypto } from '../io/builtins.ts';
import { UnsupportedRequestError } from './adapter.ts';
import * as z from '../config/zod.ts';
import type { ChatMessage } from '../openai/types.ts';
import { noOptions, openAICompatible } from './openai-compatible.ts';

function mapMessages(body: Record<string, unknown>, map: (message: ChatMessage) => ChatMessage): void {
  if (Array.isArray(body.messages)) body.messages = (body.messages as ChatMessage[]).map(map);
}

export const openaiAdapter = openAICompatible({
  name: 'openai',
  telemetryName: 'openai',
  defaultBaseURL: 'https://api.openai.com/v1',
  optionsSchema: z.strictObject({ organization: z.optional(z.string().check(z.minLength(1))), project: z.optional(z.string().check(z.minLength(1))) }),
  // As the official SDKs send them. The project decides OpenAI's data controls (retention, residency):
  // a request without it is served under the key's default project.
  headers: (t): Record<string, string> => ({
    ...(t.options.organization ? { 'openai-organization': t.options.organization } : {}),
    ...(t.options.project ? { 'openai-project': t.options.project } : {}),
  }),
});

export const azureOptionsSchema = z.strictObject({
  /**
   * `v1`: Azure's v1 API (GA August 2025), OpenAI's paths under `{baseURL}/openai/v1` with the
   * deployment as `model`. A date: the `api-version` query of the per-deployment URLs.
   */
  apiVersion: z._default(z.string().check(z.regex(/^(v1|\d{4}-\d{2}-\d{2}(-preview)?)$/, 'must be v1 or a date like 2024-10-21')), '2024-10-21'),
  /** Deployment name; defaults to the backend's model. */
  deployment: z.optional(z.string().check(z.minLength(1))),
  /**
   * Where the deployment processes data (policy matches on it): `standard` in its region, `dataZone`
   * anywhere in `dataZone` (eu, us), `global` anywhere. Unset: unknown, denied by a region policy.
   */
  deploymentType: z.optional(z.enum(['standard', 'dataZone', 'global'])),
  dataZone: z.optional(z.enum(['eu', 'us'])),
}).check(
  z.refine((o) => (o.deploymentType === 'dataZone') === (o.dataZone !== undefined), {
    message: 'dataZone (eu or us) is set exactly when deploymentType is dataZone',
    path: ['dataZone'],
  }),
);

/**
 * The adapter adds `/openai/deployments/...` or `/openai/v1/...` itself: a base URL that already ends
 * in `/openai` or `/openai/v1` (the form the AzureOpenAI SDK and Microsoft's v1 samples use) would
 * reach `/openai/v1/openai/v1/...`, a 404 at Azure.
 */
function azureBaseURLProblem(baseURL: string): string | undefined {
  let path: string;
  try {
    path = new URL(baseURL).pathname.replace(/\/+$/, '');
  } catch {
    return undefined; // not a URL: the config's own URL check says so
  }
  if (!/\/openai(\/v1)?$|\/openai\/deployments(\/|$)/.test(path)) return undefined;
  return `an Azure OpenAI baseURL is the resource endpoint (https://<resource>.openai.azure.com) without a path: drop ${path}, the proxy adds the path of the API options.apiVersion picks`;
}

const azureV1 = (options: { apiVersion: string }): boolean => options.apiVersion === 'v1';
const azureDeployment = (t: { options: { deployment?: string | undefined }; config: { model: string } }): string => t.options.deployment ?? t.config.model;

export const azureOpenAIAdapter = openAICompatible({
  name: 'azure-openai',
  telemetryName: 'azure.ai.openai',
  defaultBaseURL: undefined, // https://<resource>.openai.azure.com
  optionsSchema: azureOptionsSchema,
  baseURLProblem: azureBaseURLProblem,
  url: (t, endpoint) =>
    azureV1(t.options)
      ? `${t.baseURL}/openai/v1/${endpoint}`
      : `${t.baseURL}/openai/deployments/${encodeURIComponent(azureDeployment(t))}/${endpoint}?api-version=${encodeURIComponent(t.options.apiVersion)}`,
  // The v1 API finds the deployment by `model`; the dated API by its URL (it ignores `model`).
  upstreamModel: (t) => (azureV1(t.options) ? azureDeployment(t) : t.config.model),
  auth: (apiKey): Record<string, string> => (apiKey ? { 'api-key': apiKey } : {}),
  // Only the v1 API has OpenAI's other endpoints under one base URL; the dated one is per deployment.
  nativeEndpoints: azureV1,
  nativeURL: (t, path) => `${t.baseURL}/openai/v1/${path}`,
  // Older api-versions refuse `stream_options` (400); 2024-09-01-preview and later, and v1, accept it.
  streamUsage: (t) => azureV1(t.options) || t.options.apiVersion >= '2024-09-01',
});

/** Mistral accepts only 9-character alphanumeric tool-call ids; map others deterministically. */
export function mistralToolCallId(id: string): string {
  if (/^[A-Za-z0-9]{9}$/.test(id)) return id;
  return nodeCrypto().createHash('sha256').update(id).digest('base64').replace(/[^A-Za-z0-9]/g, '').slice(0, 9).padEnd(9, '0');
}

/**
 * OpenAI request fields Mistral's API refuses (422 extra_forbidden) that have no Mistral form: the
 * answer would lack what they ask for, so the backend is skipped (another may carry the request).
 */
const MISTRAL_UNSUPPORTED = ['logprobs', 'top_logprobs', 'logit_bias', 'reasoning_effort', 'modalities', 'audio', 'web_search_options'];
/** OpenAI request fields Mistral refuses that only inform OpenAI's own bookkeeping: left out. */
const MISTRAL_DROPPED = ['user', 'store', 'metadata', 'service_tier', 'prompt_cache_key', 'safety_identifier'];

export const mistralAdapter = openAICompatible({
  name: 'mistral',
  telemetryName: 'mistral_ai',
  defaultBaseURL: 'https://api.mistral.ai/v1',
  optionsSchema: noOptions,
  // Mistral refuses stream_options (422); its streams carry usage in their last chunk anyway.
  streamUsage: false,
  // The context window was reached: OpenAI says `length` for it.
  finishReasons: { model_length: 'length' },
  failedFinishReasons: ['error'],
  adjustRequest(body) {
    for (const field of MISTRAL_UNSUPPORTED) {
      if (body[field] !== undefined && body[field] !== null && body[field] !== false) {
        throw new UnsupportedRequestError(`${field} is not supported by mistral backends`, 'unsupported_parameter', field);
      }
      delete body[field];
    }
    for (const field of MISTRAL_DROPPED) delete body[field];
    // Mistral's names for two OpenAI fields.
    if (body.seed !== undefined) {
      body.random_seed = body.seed;
      delete body.seed;
    }
    if (body.max_completion_tokens !== undefined) {
      body.max_tokens ??= body.max_completion_tokens;
      delete body.max_completion_tokens;
    }
    mapMessages(body, (m) => {
      if (m.tool_calls) return { ...m, tool_calls: m.tool_calls.map((c) => ({ ...c, id: mistralToolCallId(c.id) })) };
      if (m.role === 'tool' && typeof m.tool_call_id === 'string') return { ...m, tool_call_id: mistralToolCallId(m.tool_call_id) };
      return m;
    });
  },
});

export const deepseekAdapter = openAICompatible({
  name: 'deepseek',
  telemetryName: 'deepseek',
  defaultBaseURL: 'https://api.deepseek.com',
  optionsSchema: noOptions,
  // In thinking mode DeepSeek requires an assistant turn that called tools to carry its
  // reasoning_content back (400 otherwise); elsewhere it is dropped like for every provider.
  keepReasoningContent: (message) => (message.tool_calls?.length ?? 0) > 0,
  // "The request is interrupted due to insufficient resource of the inference system."
  failedFinishReasons: ['insufficient_system_resource'],
});

export const qwenAdapter = openAICompatible({
  name: 'qwen',
  telemetryName: 'alibaba.qwen',
  defaultBaseURL: 'https://dashscope-intl.aliyuncs.com/compatible-mode/v1',
  optionsSchema: noOptions,
});

export const selfHostedAdapter = openAICompatible({
  name: 'openai-compatible',
  telemetryName: 'openai_compatible',
  defaultBaseURL: undefined, // vLLM, Ollama, llama.cpp: where it runs is the user's choice
  optionsSchema: noOptions,
});
