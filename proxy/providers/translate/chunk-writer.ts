// Emits OpenAI `chat.completion.chunk` events for translated streams, with the invariants the
// openai SDK's stream helpers check: one id and `created` throughout, `role` in the first delta,
// a tool call's id and name once (its first delta) then only argument fragments, a finish_reason
// before the end, and the usage-only chunk only when the client asked for it.
import type { ChatCompletionChunk, FinishReason, ToolCallDelta, Usage } from '../../openai/types.ts';
import type { StreamOutput, StreamSummary } from '../adapter.ts';

type Delta = ChatCompletionChunk['choices'][number]['delta'];

export class ChunkWriter {
  private id = '';
  private model: string;
  private readonly created = Math.floor(Date.now() / 1000);
  private started = false;
  private finished = false;
  private finishReason: FinishReason | undefined;
  private upstreamModel: string | undefined;
  private readonly clientWantsUsage: boolean;

  constructor(model: string, clientWantsUsage: boolean) {
    this.model = model;
    this.clientWantsUsage = clientWantsUsage;
  }

  /** The upstream's message id and model, once known (before the first chunk). */
  identify(id: string | undefined, model: string | undefined): void {
    if (model) this.upstreamModel = model;
    if (!this.started) {
      if (id) this.id = id;
      if (model) this.model = model;
    }
  }

  get hasFinished(): boolean {
    return this.finished;
  }

  summary(): StreamSummary {
    return { finishReasons: this.finishReason ? [this.finishReason] : [], ...(this.upstreamModel ? { responseModel: this.upstreamModel } : {}) };
  }

  /** The first chunk: the assistant role with empty content, sent with the first content. */
  private start(): StreamOutput[] {
    if (this.started) return [];
    return [this.chunk({ role: 'assistant', content: '' }, null)];
  }

  text(text: string): StreamOutput[] {
    if (text === '') return [];
    return [...this.start(), this.chunk({ content: text }, null)];
  }

  toolCall(delta: ToolCallDelta): StreamOutput[] {
    return [...this.start(), this.chunk({ tool_calls: [delta] }, null)];
  }

  finish(reason: FinishReason): StreamOutput[] {
    if (this.finished) return [];
    const out = [...this.start(), this.chunk({}, reason)];
    this.finished = true;
    this.finishReason = reason;
    return out;
  }

  /** The end of a complete stream: the usage chunk (when asked for) and [DONE]. */
  done(usage: Usage | undefined): StreamOutput[] {
    const out: StreamOutput[] = [];
    if (usage && this.clientWantsUsage) {
      const chunk: ChatCompletionChunk = { id: this.id, object: 'chat.completion.chunk', created: this.created, model: this.model, choices: [], usage };
      out.push({ kind: 'chunk', json: JSON.stringify(chunk) });
    }
    out.push({ kind: 'done' });
    return out;
  }

  private chunk(delta: Delta, finishReason: FinishReason | null): StreamOutput {
    if (!this.id) this.id = `chatcmpl-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 10)}`;
    this.started = true;
    const chunk: ChatCompletionChunk = {
      id: this.id,
      object: 'chat.completion.chunk',
      created: this.created,
      model: this.model,
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
    };
    return { kind: 'chunk', json: JSON.stringify(chunk) };
  }
}
