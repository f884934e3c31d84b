// Anthropic's named-event stream -> OpenAI chunks, event by event (never buffered to the end).
// Tool calls are numbered by their order among tool calls (OpenAI's tool_calls[].index), not by
// Anthropic's content-block index, which also counts text and thinking blocks.
import type { Usage } from '../../openai/types.ts';
import type { SseEvent, StreamOptions, StreamOutput, StreamSummary, StreamTranslator } from '../adapter.ts';
import { ChunkWriter } from '../translate/chunk-writer.ts';
import { truncatedStream } from '../translate/upstream-errors.ts';
import { anthropicStreamError } from './errors.ts';
import { finishReasonOf, usageOf, type AnthropicMessage, type AnthropicUsage } from './response.ts';

interface StreamEvent {
  type?: string;
  index?: number;
  message?: AnthropicMessage;
  content_block?: { type?: string; id?: string; name?: string };
  delta?: { type?: string; text?: string; partial_json?: string; stop_reason?: string | null };
  usage?: AnthropicUsage;
  error?: { type?: string; message?: string };
}

export class AnthropicStreamTranslator implements StreamTranslator {
  private readonly out: ChunkWriter;
  /** Content-block index -> tool-call index, for the blocks that are tool calls. */
  private readonly toolIndexByBlock = new Map<number, number>();
  /** Tool blocks that streamed some of their input: one that streamed none ends with "{}". */
  private readonly toolBlocksWithInput = new Set<number>();
  private usageSoFar: AnthropicUsage = {};
  private sawUsage = false;
  private ended = false;

  constructor(options: StreamOptions) {
    this.out = new ChunkWriter(options.clientModel, options.clientWantsUsage);
  }

  push(event: SseEvent): StreamOutput[] {
    if (this.ended) return [];
    let payload: StreamEvent;
    try {
      payload = JSON.parse(event.data) as StreamEvent;
    } catch {
      this.ended = true;
      return [{ kind: 'error', error: truncatedStream('the upstream sent an event that is not JSON') }];
    }
    if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
      this.ended = true;
      return [{ kind: 'error', error: truncatedStream('the upstream sent an event that is not a JSON object') }];
    }
    const type = payload.type ?? event.event;
    switch (type) {
      case 'message_start':
        this.out.identify(payload.message?.id, payload.message?.model);
        this.addUsage(payload.message?.usage);
        // Nothing is sent yet: until the first content the attempt can still fail over (an
        // overloaded error often follows message_start).
        return [];
      case 'content_block_start': {
        const block = payload.content_block;
        if (block?.type !== 'tool_use' || payload.index === undefined) return [];
        const toolIndex = this.toolIndexByBlock.size;
        this.toolIndexByBlock.set(payload.index, toolIndex);
        return this.out.toolCall({ index: toolIndex, id: String(block.id), type: 'function', function: { name: String(block.name), arguments: '' } });
      }
      case 'content_block_delta': {
        const delta = payload.delta;
        if (delta?.type === 'text_delta' && typeof delta.text === 'string') return this.out.text(delta.text);
        if (delta?.type === 'input_json_delta' && delta.partial_json) {
          const toolIndex = payload.index === undefined ? undefined : this.toolIndexByBlock.get(payload.index);
          if (toolIndex === undefined) return [];
          this.toolBlocksWithInput.add(payload.index!);
          return this.out.toolCall({ index: toolIndex, function: { arguments: delta.partial_json } });
        }
        return []; // thinking_delta, signature_delta, citations_delta: not content
      }
      case 'message_delta':
        this.addUsage(payload.usage);
        return payload.delta?.stop_reason ? this.out.finish(finishReasonOf(payload.delta.stop_reason)) : [];
      case 'message_stop':
        this.ended = true;
        return [...this.out.finish('stop'), ...this.out.done(this.usage())];
      case 'error':
        this.ended = true;
        return [{ kind: 'error', error: anthropicStreamError(payload.error) }];
      default:
        if (payload.type === 'content_block_stop' && payload.index !== undefined) {
          // A tool called without input streams no fragment (or only ""): its arguments are "{}", as
          // in OpenAI's answers and in the non-streamed translation, never "" (which JSON.parse refuses).
          const toolIndex = this.toolIndexByBlock.get(payload.index);
          if (toolIndex !== undefined && !this.toolBlocksWithInput.has(payload.index)) return this.out.toolCall({ index: toolIndex, function: { arguments: '{}' } });
        }
        return []; // ping, and event types added after this adapter
    }
  }

  end(): StreamOutput[] {
    if (this.ended) return [];
    this.ended = true;
    return [{ kind: 'error', error: truncatedStream('the upstream closed the stream before message_stop') }];
  }

  summary(): StreamSummary {
    return this.out.summary();
  }

  usage(): Usage | undefined {
    return this.sawUsage ? usageOf(this.usageSoFar) : undefined;
  }

  /** message_start carries input and cache counts; message_delta carries cumulative counts. */
  private addUsage(u: AnthropicUsage | undefined): void {
    if (!u) return;
    this.sawUsage = true;
    for (const key of ['input_tokens', 'output_tokens', 'cache_read_input_tokens', 'cache_creation_input_tokens'] as const) {
      const value = u[key];
      if (typeof value === 'number') this.usageSoFar[key] = value;
    }
    if (u.output_tokens_details) this.usageSoFar.output_tokens_details = u.output_tokens_details;
  }
}
