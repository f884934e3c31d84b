// Gemini's SSE chunks (each a whole GenerateContentResponse with the new parts; no terminator) ->
// OpenAI chunks, as they arrive. Function calls arrive whole: one delta carries id, name and the
// complete arguments. The stream is complete only once a finishReason (or a blocked prompt) was seen.
import type { Usage } from '../../openai/types.ts';
import type { SseEvent, StreamOptions, StreamOutput, StreamSummary, StreamTranslator } from '../adapter.ts';
import { ChunkWriter } from '../translate/chunk-writer.ts';
import { truncatedStream } from '../translate/upstream-errors.ts';
import { geminiErrorOf, geminiStreamError } from './errors.ts';
import { finishReasonOf, toolCallOf, usageOf, type GeminiResponse, type GeminiUsage } from './response.ts';
import type { ThoughtSignatureStore } from './thought-signatures.ts';

export class GeminiStreamTranslator implements StreamTranslator {
  private readonly out: ChunkWriter;
  private readonly signatures: ThoughtSignatureStore;
  private readonly issuer: string;
  private toolCalls = 0;
  private lastUsage: GeminiUsage | undefined;
  private ended = false;

  constructor(options: StreamOptions, signatures: ThoughtSignatureStore, issuer: string) {
    this.out = new ChunkWriter(options.clientModel, options.clientWantsUsage);
    this.signatures = signatures;
    this.issuer = issuer;
  }

  push(event: SseEvent): StreamOutput[] {
    if (this.ended || event.data.trim() === '') return [];
    let parsed: unknown;
    try {
      parsed = JSON.parse(event.data);
    } catch {
      this.ended = true;
      return [{ kind: 'error', error: truncatedStream('the upstream sent an event that is not JSON') }];
    }
    const error = geminiErrorOf(parsed);
    if (error) {
      this.ended = true;
      return [{ kind: 'error', error: geminiStreamError(error) }];
    }
    const response = (Array.isArray(parsed) ? parsed[0] : parsed) as GeminiResponse | null | undefined;
    if (typeof response !== 'object' || response === null || Array.isArray(response)) {
      this.ended = true;
      return [{ kind: 'error', error: truncatedStream('the upstream sent an event that is not a JSON object') }];
    }
    if (response.usageMetadata) this.lastUsage = response.usageMetadata;
    this.out.identify(response.responseId ? `chatcmpl-${response.responseId}` : undefined, response.modelVersion);
    // The role chunk goes out with the first content (ChunkWriter), not before: thought-only chunks
    // commit nothing, so the attempt can still fail over.
    const out: StreamOutput[] = [];
    const candidate = Array.isArray(response.candidates) ? response.candidates[0] : undefined;
    if (typeof candidate !== 'object' || candidate === null) {
      if (response.promptFeedback?.blockReason) out.push(...this.out.finish('content_filter'));
      return out;
    }
    const parts: unknown[] = Array.isArray(candidate.content?.parts) ? candidate.content.parts : [];
    for (const part of parts as NonNullable<NonNullable<typeof candidate.content>['parts']>) {
      if (typeof part !== 'object' || part === null) continue;
      if (part.functionCall) {
        const call = toolCallOf(part, this.signatures, this.issuer);
        out.push(...this.out.toolCall({ index: this.toolCalls++, id: call.id, type: 'function', function: call.function }));
      } else if (typeof part.text === 'string' && !part.thought) out.push(...this.out.text(part.text));
    }
    if (typeof candidate.finishReason === 'string' && candidate.finishReason !== '') out.push(...this.out.finish(finishReasonOf(candidate.finishReason, this.toolCalls > 0)));
    return out;
  }

  end(): StreamOutput[] {
    if (this.ended) return [];
    this.ended = true;
    // Gemini has no end-of-stream event: a stream that reached its finishReason is complete.
    if (this.out.hasFinished) return this.out.done(this.usage());
    return [{ kind: 'error', error: truncatedStream('the upstream closed the stream before it finished') }];
  }

  summary(): StreamSummary {
    return this.out.summary();
  }

  usage(): Usage | undefined {
    return usageOf(this.lastUsage);
  }
}
