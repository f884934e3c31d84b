// OpenAI chat request -> Anthropic Messages request body. Pure; throws UnsupportedRequestError
// (a 400 with a stable code) for what Anthropic cannot honour.
import { nodeCrypto } from '../../io/builtins.ts';
import type { ChatCompletionRequest, ChatMessage, FunctionTool } from '../../openai/types.ts';
import { UnsupportedRequestError } from '../adapter.ts';
import { contentParts, maxOutputTokens, plainText, refuseUnsupported, stopSequences, toolArguments, type NeutralPart } from '../translate/request-parts.ts';

export interface AnthropicRequestOptions {
  /** Used when the client sends neither max_completion_tokens nor max_tokens (Anthropic requires it). */
  defaultMaxTokens: number;
  /** Where Anthropic runs inference (`inference_geo`); Anthropic's default (the workspace's, else anywhere) when absent. */
  inferenceGeo?: string | undefined;
}

type Block = Record<string, unknown> & { type: string };
interface Turn {
  role: 'user' | 'assistant';
  content: Block[];
}

const IMAGE_TYPES = new Set(['image/jpeg', 'image/png', 'image/gif', 'image/webp']);
// `xhigh` (OpenAI's effort above high, GPT-5.2 on) gets twice high's budget. `none` and `minimal` get no thinking.
const THINKING_BUDGET: Record<string, number> = { low: 1024, medium: 4096, high: 16384, xhigh: 32768 };

/** Anthropic's blocks for content parts. Whitespace-only text is left out: Anthropic refuses it (400
 * "text content blocks must contain non-whitespace text"), and models often answer "\n\n" beside tool calls. */
function blocksOf(parts: NeutralPart[], param: string): Block[] {
  return parts.filter((p) => p.kind !== 'text' || p.text.trim() !== '').map((p) => {
    if (p.kind === 'text') return { type: 'text', text: p.text };
    if (p.image.kind === 'url') return { type: 'image', source: { type: 'url', url: p.image.url } };
    if (!IMAGE_TYPES.has(p.image.mediaType)) {
      throw new UnsupportedRequestError(`image type ${p.image.mediaType} is not supported by anthropic backends (jpeg, png, gif, webp)`, 'unsupported_image_type', param);
    }
    return { type: 'image', source: { type: 'base64', media_type: p.image.mediaType, data: p.image.base64 } };
  });
}

/** Consecutive same-role turns become one (Anthropic wants alternation); tool results stay first. */
function pushTurn(turns: Turn[], turn: Turn): void {
  if (turn.content.length === 0) return;
  const last = turns[turns.length - 1];
  if (last && last.role === turn.role) last.content.push(...turn.content);
  else turns.push(turn);
}

function translateMessages(messages: ChatMessage[]): { system: Block[]; turns: Turn[]; toolNames: Set<string> } {
  const system: Block[] = [];
  const turns: Turn[] = [];
  const toolNames = new Set<string>();
  messages.forEach((m, i) => {
    const at = `messages[${i}].content`;
    switch (m.role) {
      case 'system':
      case 'developer': {
        const text = plainText(m.content, at);
        if (text.trim() !== '') system.push({ type: 'text', text });
        break;
      }
      case 'user':
        pushTurn(turns, { role: 'user', content: blocksOf(contentParts(m.content, at), at) });
        break;
      case 'assistant': {
        // Empty and whitespace-only text blocks are refused by Anthropic: left out beside tool_calls.
        const content = blocksOf(contentParts(m.content, at), at);
        for (const [c, call] of (m.tool_calls ?? []).entries()) {
          toolNames.add(call.function.name);
          content.push({ type: 'tool_use', id: anthropicToolId(call.id), name: call.function.name, input: toolArguments(call, `messages[${i}].tool_calls[${c}].function.arguments`) });
        }
        pushTurn(turns, { role: 'assistant', content });
        break;
      }
      case 'tool': {
        if (typeof m.tool_call_id !== 'string' || m.tool_call_id === '') {
          throw new UnsupportedRequestError('a tool message needs tool_call_id', 'invalid_tool_message', `messages[${i}].tool_call_id`);
        }
        const text = plainText(m.content, at);
        const result: Block = { type: 'tool_result', tool_use_id: anthropicToolId(m.tool_call_id) };
        if (text.trim() !== '') result.content = text;
        // Several OpenAI tool messages answer one assistant turn: they join one user turn, results
        // before any text the user adds.
        const last = turns[turns.length - 1];
        if (last?.role === 'user') {
          const firstNonResult = last.content.findIndex((b) => b.type !== 'tool_result');
          if (firstNonResult === -1) last.content.push(result);
          else last.content.splice(firstNonResult, 0, result);
        } else turns.push({ role: 'user', content: [result] });
        break;
      }
    }
  });
  // A last assistant turn is a prefill, which Anthropic refuses with trailing whitespace.
  const last = turns[turns.length - 1];
  const tail = last?.role === 'assistant' ? last.content[last.content.length - 1] : undefined;
  if (tail?.type === 'text') tail.text = (tail.text as string).trimEnd();
  return { system, turns, toolNames };
}

/**
 * Anthropic takes tool-use ids of [a-zA-Z0-9_-] only; a history built on another backend may carry
 * others (vLLM and Kimi's `functions.bash:0`). Those are mapped deterministically, so a call and its
 * result keep matching; valid ids pass unchanged.
 */
export function anthropicToolId(id: string): string {
  if (/^[a-zA-Z0-9_-]+$/.test(id)) return id;
  return `toolu_${nodeCrypto().createHash('sha256').update(id).digest('base64url').slice(0, 24)}`;
}

/**
 * Whether the translated conversation is inside a tool loop: its last user turn carries tool results
 * (whatever else follows them in it: an image the tool produced, a reminder).
 */
function inToolLoop(turns: Turn[]): boolean {
  const last = turns[turns.length - 1];
  return last?.role === 'user' && last.content.some((b) => b.type === 'tool_result');
}

function translateTools(tools: FunctionTool[]): Array<Record<string, unknown>> {
  return tools.map((tool, i) => {
    if (tool.type !== 'function' || !tool.function?.name) {
      throw new UnsupportedRequestError('only function tools are supported by anthropic backends', 'unsupported_tool_type', `tools[${i}]`);
    }
    // Anthropic requires input_schema.type "object"; OpenAI lets parameters be omitted.
    const out: Record<string, unknown> = { name: tool.function.name, input_schema: { type: 'object', ...(tool.function.parameters ?? {}) } };
    if (tool.function.description) out.description = tool.function.description;
    return out;
  });
}

function toolChoice(request: ChatCompletionRequest): Record<string, unknown> | undefined {
  const choice = request.tool_choice;
  let out: Record<string, unknown> | undefined;
  if (choice === undefined) out = undefined;
  else if (choice === 'auto') out = { type: 'auto' };
  else if (choice === 'none') out = { type: 'none' };
  else if (choice === 'required') out = { type: 'any' };
  else if (typeof choice === 'object' && choice.type === 'function' && choice.function?.name) out = { type: 'tool', name: choice.function.name };
  else throw new UnsupportedRequestError('tool_choice must be none, auto, required or a named function for anthropic backends', 'unsupported_parameter_value', 'tool_choice');
  if (request.parallel_tool_calls === false && out?.type !== 'none') out = { ...(out ?? { type: 'auto' }), disable_parallel_tool_use: true };
  return out;
}

/** `user` becomes metadata.user_id, except values that look like emails or phone numbers (Anthropic forbids PII there). */
function userId(user: unknown): string | undefined {
  if (typeof user !== 'string' || user === '') return undefined;
  if (/@/.test(user) || /^\+?[\d\s().-]{7,}$/.test(user)) return undefined;
  return user.slice(0, 256);
}

export function anthropicRequestBody(request: ChatCompletionRequest, model: string, options: AnthropicRequestOptions): Record<string, unknown> {
  refuseUnsupported(request, 'anthropic', ['n', 'logprobs', 'seed', 'penalties', 'logit_bias']);
  const { system, turns, toolNames } = translateMessages(request.messages);
  if (turns.length === 0) throw new UnsupportedRequestError('the request has no user or assistant message with content', 'invalid_messages', 'messages');

  const body: Record<string, unknown> = { model, max_tokens: maxOutputTokens(request) ?? options.defaultMaxTokens };
  if (system.length > 0) body.system = system;
  body.messages = turns;

  const tools = request.tools && request.tools.length > 0 ? translateTools(request.tools) : undefined;
  if (tools) body.tools = tools;
  else if (toolNames.size > 0) {
    // Anthropic refuses tool_use/tool_result history without tool definitions: declare the tools
    // the history used and forbid new calls, which is what a request without tools means.
    body.tools = [...toolNames].map((name) => ({ name, input_schema: { type: 'object' } }));
    body.tool_choice = { type: 'none' };
  }
  const choice = toolChoice(request);
  if (choice && (tools || choice.type === 'none')) body.tool_choice = choice;

  if (request.temperature !== undefined && request.temperature !== null) {
    if (request.temperature > 1) throw new UnsupportedRequestError('temperature above 1 is not supported by anthropic backends (range 0-1)', 'unsupported_parameter_value', 'temperature');
    body.temperature = request.temperature;
  }
  if (request.top_p !== undefined && request.top_p !== null) body.top_p = request.top_p;
  const stop = stopSequences(request.stop);
  if (stop) body.stop_sequences = stop;

  const format = request.response_format;
  if (format?.type === 'json_schema') {
    if (!format.json_schema?.schema) throw new UnsupportedRequestError('response_format.json_schema.schema is required', 'invalid_parameter', 'response_format');
    body.output_config = { format: { type: 'json_schema', schema: format.json_schema.schema } };
  } else if (format?.type === 'json_object') {
    throw new UnsupportedRequestError('response_format json_object has no anthropic equivalent; use json_schema', 'unsupported_parameter_value', 'response_format');
  }

  const effort = request.reasoning_effort;
  // Inside a tool loop Anthropic wants the assistant turn to start with the thinking blocks it sent,
  // which OpenAI's message shape cannot carry back: that turn is answered without extended thinking
  // rather than refused (400 "Expected thinking ... but found tool_use").
  if (typeof effort === 'string' && THINKING_BUDGET[effort] !== undefined && !inToolLoop(turns)) {
    // Extended thinking refuses a temperature other than 1, top_p below 0.95 and forced tool use:
    // refused here, so that another backend of the route can take the request.
    if (body.temperature !== undefined && body.temperature !== 1) throw new UnsupportedRequestError('temperature cannot be set with reasoning_effort on anthropic backends', 'unsupported_parameter_value', 'temperature');
    if (body.top_p !== undefined && (body.top_p as number) < 0.95) throw new UnsupportedRequestError('top_p below 0.95 cannot be combined with reasoning_effort on anthropic backends', 'unsupported_parameter_value', 'top_p');
    const forced = (body.tool_choice as { type?: string } | undefined)?.type;
    if (forced === 'any' || forced === 'tool') throw new UnsupportedRequestError('a required or named tool_choice cannot be combined with reasoning_effort on anthropic backends', 'unsupported_parameter_value', 'tool_choice');
    // A client limit counts thinking too (as OpenAI's max_completion_tokens counts reasoning). Without
    // one, the thinking budget comes on top of the default, or the answer would be left ~1 token.
    const clientLimit = maxOutputTokens(request);
    if (clientLimit === undefined) body.max_tokens = options.defaultMaxTokens + THINKING_BUDGET[effort]!;
    const budget = Math.min(THINKING_BUDGET[effort]!, (body.max_tokens as number) - 1);
    if (budget < 1024) throw new UnsupportedRequestError('reasoning on anthropic backends needs max_completion_tokens above 1024', 'unsupported_parameter_value', 'reasoning_effort');
    body.thinking = { type: 'enabled', budget_tokens: budget };
  }

  const user = userId(request.user ?? request.safety_identifier);
  if (user) body.metadata = { user_id: user };
  if (options.inferenceGeo !== undefined) body.inference_geo = options.inferenceGeo;
  if (request.stream) body.stream = true;
  return body;
}
