// `provider: anthropic`: the Anthropic Messages API behind the OpenAI chat API.
import * as z from '../../config/zod.ts';
import type { ProviderAdapter, UpstreamRequest } from '../adapter.ts';
import { classifyAnthropicError } from './errors.ts';
import { anthropicRequestBody } from './request.ts';
import { anthropicToCompletion } from './response.ts';
import { AnthropicStreamTranslator } from './stream.ts';

export const anthropicOptionsSchema = z.strictObject({
  /** `anthropic-version` header; pinned so an upstream default change cannot alter the wire format. */
  version: z._default(z.string().check(z.minLength(1)), '2023-06-01'),
  /** max_tokens sent when the client gives none (Anthropic requires one). */
  defaultMaxTokens: z._default(z.int().check(z.positive(), z.maximum(1_000_000)), 4096),
  /** `x-api-key` for API keys (default); `bearer` for OAuth tokens and gateways that want Authorization. */
  auth: z._default(z.enum(['x-api-key', 'bearer']), 'x-api-key'),
  /** `anthropic-beta` flags to send, for features still in beta. */
  betas: z._default(z.array(z.string().check(z.regex(/^[a-z0-9-]+$/))), []),
  /**
   * `inference_geo` sent with every request: the geography Anthropic runs inference in (`us`; `global`,
   * Anthropic's default, is anywhere). Policy's allowedRegions judges this value, not `region`, when the
   * backend calls Anthropic's own API. Any lower-case geography name passes, so a new one needs no release.
   */
  inferenceGeo: z.optional(z.string().check(z.regex(/^[a-z][a-z0-9-]{0,31}$/, 'a lower-case geography name such as us or global'))),
});
export type AnthropicOptions = z.infer<typeof anthropicOptionsSchema>;

export const anthropicAdapter: ProviderAdapter<AnthropicOptions> = {
  name: 'anthropic',
  telemetryName: 'anthropic',
  defaultBaseURL: 'https://api.anthropic.com',
  optionsSchema: anthropicOptionsSchema,

  buildChatRequest(request, target): UpstreamRequest {
    const body = anthropicRequestBody(request, target.config.model, { defaultMaxTokens: target.options.defaultMaxTokens, inferenceGeo: target.options.inferenceGeo });
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      accept: request.stream ? 'text/event-stream' : 'application/json',
      'anthropic-version': target.options.version,
    };
    if (target.options.betas.length > 0) headers['anthropic-beta'] = target.options.betas.join(',');
    if (target.apiKey) {
      if (target.options.auth === 'bearer') headers.authorization = `Bearer ${target.apiKey}`;
      else headers['x-api-key'] = target.apiKey;
    }
    return { method: 'POST', url: `${target.baseURL}/v1/messages`, headers, body: JSON.stringify(body) };
  },

  parseChatResponse: (body, _target, clientModel) => anthropicToCompletion(body, clientModel),
  createStreamTranslator: (_target, options) => new AnthropicStreamTranslator(options),
  classifyError: classifyAnthropicError,
};

