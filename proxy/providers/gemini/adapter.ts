// `provider: gemini`: Google's Gemini API (and, with `options.vertex`, the Vertex AI URL shape)
// behind the OpenAI chat API.
import * as z from '../../config/zod.ts';
import type { BackendTarget, ProviderAdapter, UpstreamRequest } from '../adapter.ts';
import { classifyGeminiError } from './errors.ts';
import { geminiRequestBody } from './request.ts';
import { geminiToCompletion } from './response.ts';
import { GeminiStreamTranslator } from './stream.ts';
import { ThoughtSignatureStore } from './thought-signatures.ts';

const segment = z.string().check(z.regex(/^[a-z0-9][a-z0-9-]*$/, 'lower-case letters, digits and dashes'));

export const geminiOptionsSchema = z.strictObject({
  /** API version path segment: v1beta (default; needed for parametersJsonSchema) or v1. */
  apiVersion: z._default(z.enum(['v1beta', 'v1', 'v1beta1']), 'v1beta'),
  /** `parametersJsonSchema` (JSON Schema as is) or `parameters` (Gemini's OpenAPI subset, for older models). */
  toolSchemaField: z._default(z.enum(['parametersJsonSchema', 'parameters']), 'parametersJsonSchema'),
  /** Vertex AI: the project and location select the URL (and the region data is processed in). */
  vertex: z.optional(z.strictObject({ project: z.string().check(z.regex(/^[a-z][a-z0-9-]{4,61}[a-z0-9]$/, 'a Google Cloud project id')), location: segment })),
  /** How the key is sent: `x-goog-api-key` (Gemini API keys, default) or `bearer` (OAuth tokens, Vertex default). */
  auth: z.optional(z.enum(['x-goog-api-key', 'bearer'])),
});
export type GeminiOptions = z.infer<typeof geminiOptionsSchema>;

/** The Vertex AI host of a location: `global` and the `us`/`eu` multi-regions have their own. */
export function vertexHost(location: string): string {
  if (location === 'global') return 'https://aiplatform.googleapis.com';
  if (location === 'us' || location === 'eu') return `https://aiplatform.${location}.rep.googleapis.com`;
  return `https://${location}-aiplatform.googleapis.com`;
}

function url(target: BackendTarget<GeminiOptions>, stream: boolean): string {
  const model = encodeURIComponent(target.config.model);
  const method = stream ? 'streamGenerateContent?alt=sse' : 'generateContent';
  const vertex = target.options.vertex;
  if (vertex) {
    const version = target.options.apiVersion === 'v1beta' ? 'v1beta1' : target.options.apiVersion;
    return `${target.baseURL}/${version}/projects/${vertex.project}/locations/${vertex.location}/publishers/google/models/${model}:${method}`;
  }
  return `${target.baseURL}/${target.options.apiVersion}/models/${model}:${method}`;
}

/** Who signs a thought signature: the endpoint and the model (Vertex and the Developer API are apart). */
const issuerOf = (target: { baseURL: string; config: { model: string } }) => `${target.baseURL} ${target.config.model}`;

export function createGeminiAdapter(signatures = new ThoughtSignatureStore()): ProviderAdapter<GeminiOptions> {
  return {
    name: 'gemini',
    telemetryName: 'gcp.gemini',
    // Vertex AI is a provider of its own in the GenAI conventions.
    telemetryNameFor: (options) => (options.vertex ? 'gcp.vertex_ai' : 'gcp.gemini'),
    defaultBaseURL: 'https://generativelanguage.googleapis.com',
    defaultBaseURLFor: (options) => (options.vertex ? vertexHost(options.vertex.location) : undefined),
    optionsSchema: geminiOptionsSchema,

    buildChatRequest(request, target): UpstreamRequest {
      const body = geminiRequestBody(request, { toolSchemaField: target.options.toolSchemaField, signatures, model: target.config.model, issuer: issuerOf(target) });
      const headers: Record<string, string> = { 'content-type': 'application/json', accept: request.stream ? 'text/event-stream' : 'application/json' };
      const auth = target.options.auth ?? (target.options.vertex ? 'bearer' : 'x-goog-api-key');
      if (target.apiKey) {
        if (auth === 'bearer') headers.authorization = `Bearer ${target.apiKey}`;
        else headers['x-goog-api-key'] = target.apiKey;
      }
      return { method: 'POST', url: url(target, request.stream === true), headers, body: JSON.stringify(body) };
    },

    parseChatResponse: (body, target, clientModel) => geminiToCompletion(body, clientModel, signatures, issuerOf(target)),
    createStreamTranslator: (target, options) => new GeminiStreamTranslator(options, signatures, issuerOf(target)),
    classifyError: classifyGeminiError,
  };
}

export const geminiAdapter = createGeminiAdapter();
