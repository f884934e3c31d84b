// Anthropic Message -> OpenAI chat.completion, and the mappings the stream translator shares:
// stop_reason -> finish_reason, usage -> OpenAI usage (cache tokens added back into prompt_tokens).
import type { ChatCompletion, FinishReason, ToolCall, Usage } from '../../openai/types.ts';

export interface AnthropicUsage {
  input_tokens?: number | null;
  output_tokens?: number | null;
  cache_read_input_tokens?: number | null;
  cache_creation_input_tokens?: number | null;
  output_tokens_details?: { thinking_tokens?: number | null } | null;
}

interface AnthropicBlock {
  type: string;
  text?: string;
  id?: string;
  name?: string;
  input?: unknown;
}

export interface AnthropicMessage {
  id?: string;
  model?: string;
  content?: AnthropicBlock[];
  stop_reason?: string | null;
  usage?: AnthropicUsage;
}

export function finishReasonOf(stopReason: string | null | undefined): FinishReason {
  switch (stopReason) {
    case 'max_tokens':
    case 'model_context_window_exceeded':
      return 'length';
    case 'tool_use':
      return 'tool_calls';
    case 'refusal':
      return 'content_filter';
    default:
      // end_turn, stop_sequence, pause_turn and anything new
      return 'stop';
  }
}

/** Anthropic's input_tokens excludes cache reads and writes; OpenAI's prompt_tokens includes them. */
export function usageOf(u: AnthropicUsage | undefined): Usage | undefined {
  if (!u) return undefined;
  const cacheRead = u.cache_read_input_tokens ?? 0;
  const cacheWrite = u.cache_creation_input_tokens ?? 0;
  const prompt = (u.input_tokens ?? 0) + cacheRead + cacheWrite;
  const completion = u.output_tokens ?? 0;
  return {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: prompt + completion,
    prompt_tokens_details: { cached_tokens: cacheRead, cache_creation_tokens: cacheWrite },
    completion_tokens_details: { reasoning_tokens: u.output_tokens_details?.thinking_tokens ?? 0 },
  };
}

export function anthropicToCompletion(body: unknown, clientModel: string): ChatCompletion {
  const message = (body ?? {}) as AnthropicMessage;
  const texts: string[] = [];
  const toolCalls: ToolCall[] = [];
  for (const block of message.content ?? []) {
    if (block.type === 'text' && typeof block.text === 'string') texts.push(block.text);
    else if (block.type === 'tool_use') {
      toolCalls.push({ id: String(block.id), type: 'function', function: { name: String(block.name), arguments: JSON.stringify(block.input ?? {}) } });
    }
    // thinking / redacted_thinking blocks are never shown as content
  }
  const text = texts.join('');
  const completion: ChatCompletion = {
    id: message.id ?? `chatcmpl-${Date.now().toString(36)}`,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model: message.model ?? clientModel,
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content: text === '' && (toolCalls.length > 0 || message.stop_reason === 'refusal') ? null : text, refusal: null, ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}) },
        logprobs: null,
        finish_reason: finishReasonOf(message.stop_reason),
      },
    ],
  };
  const usage = usageOf(message.usage);
  if (usage) completion.usage = usage;
  return completion;
}
