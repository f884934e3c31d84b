// The one interface every provider family implements. Adapters are pure translators: they build
// the upstream HTTP request from an OpenAI-shaped request, turn the upstream response (whole or
// as SSE events) back into OpenAI shape, and classify upstream errors. They never do I/O: the
// transport, retries, timeouts and streaming pump live in proxy/upstream and proxy/routing.
import type * as z from '../config/zod.ts';
import type { BackendConfig, ProviderName } from '../config/schema.ts';
import type {
  ChatCompletion,
  ChatCompletionRequest,
  EmbeddingsRequest,
  EmbeddingsResponse,
  OpenAIErrorBody,
  Usage,
} from '../openai/types.ts';

/** A backend as the adapter sees it: its config with validated options, and the current key. */
export interface BackendTarget<Options = Record<string, unknown>> {
  config: BackendConfig;
  /** `config.baseURL` or the adapter's default, without a trailing slash. */
  baseURL: string;
  options: Options;
  /** The API key read from the backend's credentials (undefined for `none`). Never log it. */
  apiKey: string | undefined;
}

export interface UpstreamRequest {
  method: 'POST' | 'GET';
  url: string;
  headers: Record<string, string>;
  body?: string;
}

/** Response headers as node:http returns them (lower-case names). */
export type UpstreamHeaders = Readonly<Record<string, string | string[] | undefined>>;

/** One server-sent event as parsed from the upstream stream. */
export interface SseEvent {
  event?: string | undefined;
  data: string;
}

/** What a stream translator asks the proxy to send to the client. */
export type StreamOutput =
  /** A `chat.completion.chunk`, already serialised as JSON (pass-through adapters avoid re-encoding). */
  | { kind: 'chunk'; json: string }
  /** The stream ended normally: the proxy writes `data: [DONE]`. */
  | { kind: 'done' }
  /** The upstream reported an error mid-stream: the proxy ends the client's stream with it. */
  | { kind: 'error'; error: UpstreamError };

export interface StreamTranslator {
  /** Feed one upstream SSE event; returns what to send to the client now (maybe nothing). */
  push(event: SseEvent): StreamOutput[];
  /** The upstream closed the stream; returns the tail (for example `done`, or an error if truncated). */
  end(): StreamOutput[];
  /** Token usage seen so far (the last usage the upstream reported), for telemetry and cost. */
  usage(): Usage | undefined;
  /** Finish reasons and the model the upstream reported so far, for telemetry. */
  summary(): StreamSummary;
}

export interface StreamSummary {
  finishReasons: string[];
  responseModel?: string;
}

export interface StreamOptions {
  /** The client asked for `stream_options.include_usage`; otherwise the usage-only chunk is dropped. */
  clientWantsUsage: boolean;
  /** The model name to report back to the client (the one it sent). */
  clientModel: string;
}

/** An upstream failure, classified. `retryable` decides failover; the body is what the client sees. */
export interface UpstreamError {
  status: number;
  retryable: boolean;
  /** Milliseconds the upstream asked us to wait (retry-after-ms / retry-after), if any. */
  retryAfterMs?: number;
  /** Short, low-cardinality reason, for attempt summaries, logs and metrics (`rate_limited`, `overloaded`...). */
  reason: string;
  body: OpenAIErrorBody;
}

export interface ProviderAdapter<Options = Record<string, unknown>> {
  readonly name: ProviderName;
  /** `gen_ai.provider.name` for telemetry (OTel GenAI well-known values where they exist). */
  readonly telemetryName: string;
  /** The name when it depends on the options (a gemini backend on Vertex AI is `gcp.vertex_ai`). */
  telemetryNameFor?(options: Options): string;
  /** Used when the backend has no baseURL; undefined means baseURL is required. */
  readonly defaultBaseURL: string | undefined;
  /** A default base URL that depends on the options (Vertex AI's host follows its location). */
  defaultBaseURLFor?(options: Options): string | undefined;
  /**
   * What is wrong with a base URL the adapter adds its own paths to (Azure's endpoint given with
   * `/openai/v1`, which would be doubled), or undefined when it is fine. Checked once at load.
   */
  baseURLProblem?(baseURL: string): string | undefined;
  /** Schema of `backend.options`; checked once when the config is loaded. */
  readonly optionsSchema: z.ZodMiniType<Options>;

  buildChatRequest(request: ChatCompletionRequest, target: BackendTarget<Options>): UpstreamRequest;
  parseChatResponse(body: unknown, target: BackendTarget<Options>, clientModel: string): ChatCompletion;
  createStreamTranslator(target: BackendTarget<Options>, options: StreamOptions): StreamTranslator;

  /** Absent when the provider family has no embeddings API. */
  buildEmbeddingsRequest?(request: EmbeddingsRequest, target: BackendTarget<Options>): UpstreamRequest;
  parseEmbeddingsResponse?(body: unknown, target: BackendTarget<Options>, clientModel: string): EmbeddingsResponse;

  /**
   * Providers that answer in-process (the offline `echo` provider) implement this instead of a
   * network call: the result is handled exactly like an upstream response (JSON body or SSE events).
   */
  answerLocally?(request: ChatCompletionRequest, target: BackendTarget<Options>): LocalAnswer;

  /**
   * Other OpenAI API endpoints (`moderations`, `audio/speech`, `responses`...) for providers whose API
   * *is* OpenAI's: the JSON body with the backend's model, to `{baseURL}/{path}` (Azure v1:
   * `{baseURL}/openai/v1/{path}`) with the backend's key. Absent when the provider's own API has another
   * shape (Anthropic, Gemini); see servesNativeEndpoints for Azure's dated API.
   */
  buildNativeRequest?(path: string, body: Record<string, unknown>, target: BackendTarget<Options>): UpstreamRequest;

  /**
   * Whether a backend with these options serves the native endpoints, when that depends on its
   * settings (Azure: only its v1 API sits under one base URL). Absent: every backend of the provider
   * does when `buildNativeRequest` exists.
   */
  servesNativeEndpoints?(options: Options): boolean;

  /**
   * A 2xx chat answer that says its generation failed part-way (Mistral's finish_reason `error`,
   * DeepSeek's `insufficient_system_resource`): a failed attempt, not a completion, since its text is
   * cut short. Absent when the provider has no such answer.
   */
  failedAnswer?(body: unknown): UpstreamError | undefined;

  /** Classify a non-2xx upstream response (body as text, possibly not JSON). */
  classifyError(status: number, headers: UpstreamHeaders, bodyText: string): UpstreamError;
}

export type LocalAnswer = { kind: 'json'; body: unknown } | { kind: 'events'; events: SseEvent[] };

/** Thrown by build* when the request asks for something this provider cannot honour (becomes a 400). */
export class UnsupportedRequestError extends Error {
  readonly code: string;
  readonly param: string | null;
  constructor(message: string, code: string, param: string | null = null) {
    super(message);
    this.name = 'UnsupportedRequestError';
    this.code = code;
    this.param = param;
  }
}
