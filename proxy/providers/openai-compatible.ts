// The shared base of every provider that speaks OpenAI's Chat Completions dialect (OpenAI, Azure,
// Mistral, DeepSeek, Qwen, vLLM/Ollama/llama.cpp). Providers differ by URL, auth header and a few
// request/response quirks, given as data to `openAICompatible()`.
import * as z from '../config/zod.ts';
import type { ProviderName } from '../config/schema.ts';
import type { ChatCompletion, ChatCompletionChunk, ChatCompletionRequest, ChatMessage, EmbeddingsRequest, EmbeddingsResponse, Usage } from '../openai/types.ts';
import type { BackendTarget, ProviderAdapter, SseEvent, StreamOptions, StreamOutput, StreamSummary, StreamTranslator, UpstreamError, UpstreamHeaders, UpstreamRequest } from './adapter.ts';
import { classifyOpenAIStyleError, upstreamErrorFromStreamPayload } from './openai-errors.ts';

export interface OpenAICompatibleSpec<Options> {
  name: ProviderName;
  telemetryName: string;
  defaultBaseURL: string | undefined;
  /** What is wrong with a configured base URL, if anything (see ProviderAdapter.baseURLProblem). */
  baseURLProblem?(baseURL: string): string | undefined;
  optionsSchema: z.ZodMiniType<Options>;
  /** URL of an endpoint (`chat/completions`, `embeddings`) for this backend; default `{baseURL}/{endpoint}`. */
  url?(target: BackendTarget<Options>, endpoint: 'chat/completions' | 'embeddings'): string;
  /** Auth headers for the key (none when the key is undefined); default `Authorization: Bearer`. */
  auth?(apiKey: string | undefined): Record<string, string>;
  /** Other headers every request to this backend carries, from its options (OpenAI's project...). */
  headers?(target: BackendTarget<Options>): Record<string, string>;
  /**
   * Last adjustments of the outgoing body (e.g. Mistral's tool-call id format and field names). May
   * throw UnsupportedRequestError for a field the provider refuses: the next backend is then tried.
   */
  adjustRequest?(body: Record<string, unknown>): void;
  /**
   * Whether the upstream accepts `stream_options.include_usage` (most do; default true). Without it the
   * proxy does not ask for usage, and drops a client's `stream_options` rather than have the request refused.
   */
  streamUsage?: boolean | ((target: BackendTarget<Options>) => boolean);
  /** The provider's own `finish_reason` values, as OpenAI's (Mistral's `model_length` is `length`). */
  finishReasons?: Readonly<Record<string, string>>;
  /**
   * The provider's `finish_reason` values that mean the server failed mid-generation (Mistral's
   * `error`): the answer is a failed attempt (fail over when nothing was sent; an error event ends a
   * stream already under way), never a completion that looks whole.
   */
  failedFinishReasons?: readonly string[];
  /**
   * The `model` the upstream's body carries (default the backend's `model`): Azure's v1 API takes the
   * deployment name there.
   */
  upstreamModel?(target: BackendTarget<Options>): string;
  /**
   * The provider's other endpoints follow OpenAI's paths (default true), for every backend or, as a
   * function, for backends with these options (Azure: the v1 API only).
   */
  nativeEndpoints?: boolean | ((options: Options) => boolean);
  /** URL of a native endpoint (`responses`, `moderations`...); default `{baseURL}/{path}`. */
  nativeURL?(target: BackendTarget<Options>, path: string): string;
  /**
   * Which assistant messages keep a `reasoning_content` the client sent back. Default none: it is
   * DeepSeek's field, and other providers refuse unknown message fields.
   */
  keepReasoningContent?(message: ChatMessage): boolean;
}

export const noOptions = z.strictObject({});

export const bearer = (apiKey: string | undefined): Record<string, string> => (apiKey ? { authorization: `Bearer ${apiKey}` } : {});


function withoutReasoningContent(messages: ChatMessage[], keep: (message: ChatMessage) => boolean): ChatMessage[] {
  if (!messages.some((m) => m.reasoning_content !== undefined)) return messages;
  return messages.map((m) => {
    if (m.reasoning_content === undefined || keep(m)) return m;
    const { reasoning_content: _dropped, ...rest } = m;
    return rest;
  });
}

export function openAICompatible<Options>(spec: OpenAICompatibleSpec<Options>): ProviderAdapter<Options> {
  const url = spec.url ?? ((target, endpoint) => `${target.baseURL}/${endpoint}`);
  const auth = spec.auth ?? bearer;
  const streamUsage = (target: BackendTarget<Options>): boolean => (typeof spec.streamUsage === 'function' ? spec.streamUsage(target) : spec.streamUsage !== false);
  const backendHeaders = (target: BackendTarget<Options>): Record<string, string> => (spec.headers ? { ...spec.headers(target), ...auth(target.apiKey) } : auth(target.apiKey));
  const upstreamModel = spec.upstreamModel ?? ((target: BackendTarget<Options>) => target.config.model);
  const withModel = (target: BackendTarget<Options>, request: ChatCompletionRequest | EmbeddingsRequest | Record<string, unknown>): Record<string, unknown> => ({ ...request, model: upstreamModel(target) });
  const nativeURL = spec.nativeURL ?? ((target: BackendTarget<Options>, path: string) => `${target.baseURL}/${path}`);
  return {
    name: spec.name,
    telemetryName: spec.telemetryName,
    defaultBaseURL: spec.defaultBaseURL,
    ...(spec.baseURLProblem ? { baseURLProblem: spec.baseURLProblem } : {}),
    optionsSchema: spec.optionsSchema,

    buildChatRequest(request, target): UpstreamRequest {
      const body = withModel(target, request);
      body.messages = withoutReasoningContent(request.messages, spec.keepReasoningContent ?? (() => false));
      if (request.stream && streamUsage(target)) {
        // Ask for usage even when the client did not: telemetry and cost need it. The translator
        // hides the extra usage-only chunk from clients that did not ask.
        body.stream_options = { ...(request.stream_options ?? {}), include_usage: true };
      } else delete body.stream_options;
      spec.adjustRequest?.(body);
      return {
        method: 'POST',
        url: url(target, 'chat/completions'),
        headers: { 'content-type': 'application/json', accept: request.stream ? 'text/event-stream' : 'application/json', ...backendHeaders(target) },
        body: JSON.stringify(body),
      };
    },

    parseChatResponse(body, _target, _clientModel): ChatCompletion {
      return spec.finishReasons ? withOpenAIFinishReasons(body as ChatCompletion, spec.finishReasons) : (body as ChatCompletion);
    },

    createStreamTranslator(_target, options): StreamTranslator {
      return new OpenAIStreamPassThrough(options, spec.finishReasons, spec.failedFinishReasons);
    },

    ...(spec.failedFinishReasons
      ? {
          failedAnswer(body: unknown): UpstreamError | undefined {
            const failed = spec.failedFinishReasons!;
            const choices = (body as { choices?: unknown } | null)?.choices;
            if (!Array.isArray(choices)) return undefined;
            for (const choice of choices) {
              const reason = (choice as { finish_reason?: unknown } | null)?.finish_reason;
              if (typeof reason === 'string' && failed.includes(reason)) return generationFailed(reason);
            }
            return undefined;
          },
        }
      : {}),

    buildEmbeddingsRequest(request, target): UpstreamRequest {
      return {
        method: 'POST',
        url: url(target, 'embeddings'),
        headers: { 'content-type': 'application/json', accept: 'application/json', ...backendHeaders(target) },
        body: JSON.stringify(withModel(target, request)),
      };
    },

    parseEmbeddingsResponse(body): EmbeddingsResponse {
      return body as EmbeddingsResponse;
    },

    ...(spec.nativeEndpoints === false
      ? {}
      : {
          ...(typeof spec.nativeEndpoints === 'function' ? { servesNativeEndpoints: spec.nativeEndpoints } : {}),
          buildNativeRequest(path: string, body: Record<string, unknown>, target: BackendTarget<Options>): UpstreamRequest {
            return {
              method: 'POST',
              url: nativeURL(target, path),
              headers: { 'content-type': 'application/json', ...backendHeaders(target) },
              body: JSON.stringify(withModel(target, body)),
            };
          },
        }),

    classifyError(status: number, headers: UpstreamHeaders, bodyText: string): UpstreamError {
      return classifyOpenAIStyleError(status, headers, bodyText);
    },
  };
}

/**
 * Passes OpenAI-dialect chunks through untouched (no re-encoding) except: the usage-only chunk is
 * dropped when the client did not ask for it, Azure's empty `choices` content-filter frames are
 * dropped, and an `error` payload ends the stream with an error.
 */
class OpenAIStreamPassThrough implements StreamTranslator {
  private lastUsage: Usage | undefined;
  private finished = false;
  private sawFinishReason = false;
  /** Finish reason by choice index (a Map: the index is upstream input). */
  private readonly finishReasons = new Map<number, string>();
  private responseModel: string | undefined;
  private readonly options: StreamOptions;
  private readonly finishReasonMap: Readonly<Record<string, string>> | undefined;
  private readonly failedFinishReasons: readonly string[] | undefined;
  /**
   * With failedFinishReasons: chunks that carry nothing yet (the opening `{"role":"assistant"}`) wait
   * for the first one that does, so that a generation failing before its first text has sent nothing
   * and can fail over.
   */
  private held: string[] = [];
  private sentAny = false;
  /** The generation failed: the error is sent at [DONE] or the end, after a usage chunk still to come. */
  private failure: UpstreamError | undefined;

  constructor(options: StreamOptions, finishReasonMap?: Readonly<Record<string, string>>, failedFinishReasons?: readonly string[]) {
    this.options = options;
    this.finishReasonMap = finishReasonMap;
    this.failedFinishReasons = failedFinishReasons;
  }

  push(event: SseEvent): StreamOutput[] {
    if (this.finished) return [];
    const data = event.data.trim();
    if (data === '') return [];
    if (this.failure) return this.afterFailure(data);
    if (data === '[DONE]') {
      this.finished = true;
      return this.release([{ kind: 'done' }]);
    }
    let chunk: ChatCompletionChunk & { error?: unknown };
    try {
      chunk = JSON.parse(data) as ChatCompletionChunk & { error?: unknown };
    } catch {
      this.finished = true;
      return [{ kind: 'error', error: malformed('the upstream sent an event that is not JSON') }];
    }
    if (typeof chunk !== 'object' || chunk === null || Array.isArray(chunk)) {
      this.finished = true;
      return [{ kind: 'error', error: malformed('the upstream sent an event that is not a JSON object') }];
    }
    if (event.event === 'error' || chunk.error !== undefined) {
      this.finished = true;
      return [{ kind: 'error', error: upstreamErrorFromStreamPayload(chunk) }];
    }
    if (chunk.usage) this.lastUsage = chunk.usage;
    const choices = Array.isArray(chunk.choices) ? chunk.choices : [];
    if (choices.length === 0) {
      // Usage-only chunk (shown only to clients that asked) or an Azure prompt-filter frame.
      return chunk.usage && this.options.clientWantsUsage ? this.release([{ kind: 'chunk', json: data }]) : [];
    }
    if (choices.some((choice) => typeof choice !== 'object' || choice === null)) {
      this.finished = true;
      return [{ kind: 'error', error: malformed('the upstream sent a chunk whose choices are not objects') }];
    }
    if (typeof chunk.model === 'string') this.responseModel = chunk.model;
    let rewritten = false;
    for (const choice of choices) {
      let reason: unknown = choice.finish_reason; // upstream input: checked, not trusted to the type
      if (typeof reason !== 'string' || reason === '') continue;
      if (this.failedFinishReasons?.includes(reason)) return this.failed(chunk, reason);
      const openAIReason = openAIFinishReason(this.finishReasonMap, reason);
      if (openAIReason !== undefined) {
        choice.finish_reason = openAIReason as typeof choice.finish_reason;
        reason = openAIReason;
        rewritten = true;
      }
      this.sawFinishReason = true;
      this.finishReasons.set(typeof choice.index === 'number' ? choice.index : this.finishReasons.size, reason as string);
    }
    // Chunks go out as received, unless a finish reason had to be put in OpenAI's terms.
    const json = rewritten ? JSON.stringify(chunk) : data;
    if (this.failedFinishReasons && !this.sentAny && carriesNothing(chunk)) {
      this.held.push(json);
      return [];
    }
    return this.release([{ kind: 'chunk', json }]);
  }

  /** Outputs that go to the client, after any chunks held back until now. */
  private release(outputs: StreamOutput[]): StreamOutput[] {
    this.sentAny = true;
    if (this.held.length === 0) return outputs;
    const held: StreamOutput[] = this.held.map((json) => ({ kind: 'chunk', json }));
    this.held = [];
    return [...held, ...outputs];
  }

  /** After a failed generation only a usage chunk is still read; the error goes out at [DONE]. */
  private afterFailure(data: string): StreamOutput[] {
    if (data === '[DONE]') {
      this.finished = true;
      return [{ kind: 'error', error: this.failure! }];
    }
    try {
      const chunk = JSON.parse(data) as { usage?: Usage } | null;
      if (typeof chunk === 'object' && chunk !== null && chunk.usage) this.lastUsage = chunk.usage;
    } catch {
      // not JSON: the error already due says enough
    }
    return [];
  }

  /**
   * The upstream's generation failed part-way: whatever the failing chunk carries still goes out
   * (without its finish reason); the error event follows at [DONE] (DeepSeek sends its usage chunk
   * first) or at the end. When nothing was sent before it, the error alone makes the attempt fail over.
   */
  private failed(chunk: ChatCompletionChunk, reason: string): StreamOutput[] {
    this.failure = generationFailed(reason);
    for (const choice of chunk.choices) choice.finish_reason = null;
    if (carriesNothing({ ...chunk, usage: undefined })) return []; // its usage is already kept (Mistral puts it here)
    return this.release([{ kind: 'chunk', json: JSON.stringify(chunk) }]);
  }

  end(): StreamOutput[] {
    if (this.finished) return [];
    this.finished = true;
    if (this.failure) return [{ kind: 'error', error: this.failure }];
    // Some self-hosted servers omit [DONE]; a stream that reached a finish_reason is complete.
    if (this.sawFinishReason) return this.release([{ kind: 'done' }]);
    return [{ kind: 'error', error: malformed('the upstream closed the stream before it finished') }];
  }

  usage(): Usage | undefined {
    return this.lastUsage;
  }

  summary(): StreamSummary {
    return { finishReasons: [...this.finishReasons.entries()].sort((a, b) => a[0] - b[0]).map(([, r]) => r), ...(this.responseModel ? { responseModel: this.responseModel } : {}) };
  }
}

/**
 * Whether a chunk carries nothing for the client yet: no usage, and in every choice no finish reason,
 * no logprobs and a delta of only its role and empty values (`{"role":"assistant","content":""}`).
 */
function carriesNothing(chunk: ChatCompletionChunk): boolean {
  if (chunk.usage) return false;
  return chunk.choices.every((choice) => {
    const { delta, finish_reason: finish, logprobs } = choice as { delta?: unknown; finish_reason?: unknown; logprobs?: unknown };
    if ((finish !== null && finish !== undefined) || (logprobs !== null && logprobs !== undefined)) return false;
    if (delta === null || delta === undefined) return true;
    if (typeof delta !== 'object') return false;
    for (const [key, value] of Object.entries(delta)) if (key !== 'role' && value !== null && value !== '') return false;
    return true;
  });
}

/** A provider's own finish reason in OpenAI's terms; undefined when it needs none (own keys only: upstream input). */
function openAIFinishReason(map: Readonly<Record<string, string>> | undefined, reason: unknown): string | undefined {
  return map !== undefined && typeof reason === 'string' && Object.hasOwn(map, reason) ? map[reason] : undefined;
}

/** The completion with its choices' provider-specific finish reasons in OpenAI's terms (a copy only when one changes). */
function withOpenAIFinishReasons(completion: ChatCompletion, map: Readonly<Record<string, string>>): ChatCompletion {
  const choices = Array.isArray(completion?.choices) ? completion.choices : [];
  if (!choices.some((c) => openAIFinishReason(map, c?.finish_reason) !== undefined)) return completion;
  return {
    ...completion,
    choices: choices.map((c) => {
      const reason = openAIFinishReason(map, c?.finish_reason);
      return reason === undefined ? c : { ...c, finish_reason: reason as typeof c.finish_reason };
    }),
  };
}

/** The upstream ended a generation with a finish reason that means it failed: retryable elsewhere. */
function generationFailed(reason: string): UpstreamError {
  return {
    status: 502,
    retryable: true,
    reason: 'generation_failed',
    body: { error: { message: `the upstream's generation failed part-way (finish_reason ${reason.slice(0, 64)})`, type: 'upstream_error', param: null, code: 'upstream_generation_failed' } },
  };
}

function malformed(message: string): UpstreamError {
  return { status: 502, retryable: false, reason: 'stream_error', body: { error: { message, type: 'upstream_error', param: null, code: 'upstream_stream_error' } } };
}
