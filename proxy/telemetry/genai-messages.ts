// OpenAI chat messages in the shape of the GenAI conventions' `gen_ai.input.messages` and
// `gen_ai.output.messages` (role + typed parts). Only used when the namespace policy allows prompt
// logging. Images are recorded by kind only: a data URL would put megabytes into a span.
import type { ChatMessage, ContentPart } from '../openai/types.ts';

type Part =
  | { type: 'text'; content: string }
  | { type: 'tool_call'; id: string; name: string; arguments: string }
  | { type: 'tool_call_response'; id: string; response: string }
  | { type: 'image' }
  | { type: string };

interface GenAiMessage {
  role: string;
  parts: Part[];
  finish_reason?: string;
}

export function inputMessagesJson(messages: readonly ChatMessage[]): string {
  return JSON.stringify(messages.map(toGenAi));
}

export function outputMessagesJson(choices: ReadonlyArray<{ message?: ChatMessage; finish_reason?: string | null }>): string {
  return JSON.stringify(
    choices.map((c) => ({ ...toGenAi(c.message ?? { role: 'assistant', content: null }), ...(c.finish_reason ? { finish_reason: c.finish_reason } : {}) })),
  );
}

function toGenAi(message: ChatMessage): GenAiMessage {
  if (message.role === 'tool') {
    return { role: 'tool', parts: [{ type: 'tool_call_response', id: message.tool_call_id ?? '', response: textOf(message.content) }] };
  }
  const parts: Part[] = contentParts(message.content);
  for (const call of message.tool_calls ?? []) {
    parts.push({ type: 'tool_call', id: call.id, name: call.function.name, arguments: call.function.arguments });
  }
  return { role: message.role, parts };
}

function contentParts(content: ChatMessage['content']): Part[] {
  if (typeof content === 'string') return content === '' ? [] : [{ type: 'text', content }];
  if (!Array.isArray(content)) return [];
  return content.map((part: ContentPart): Part => {
    if (part.type === 'text' && typeof part.text === 'string') return { type: 'text', content: part.text };
    if (part.type === 'image_url') return { type: 'image' };
    return { type: part.type };
  });
}

function textOf(content: ChatMessage['content']): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content.map((p) => (p.type === 'text' && typeof p.text === 'string' ? p.text : '')).join('');
}
