// Gemini GenerateContentResponse -> OpenAI shapes, shared by the whole-body and stream paths:
// finish reasons (STOP with function calls is tool_calls; safety reasons and a blocked prompt are
// content_filter), usage (thoughts count as completion tokens), and function calls with the ids we
// issue (the signature Gemini attached is remembered under that id).
import { nodeCrypto } from '../../io/builtins.ts';
import type { ChatCompletion, FinishReason, ToolCall, Usage } from '../../openai/types.ts';
import type { ThoughtSignatureStore } from './thought-signatures.ts';

export interface GeminiPart {
  text?: string;
  thought?: boolean;
  thoughtSignature?: string;
  functionCall?: { name?: string; args?: unknown; id?: string };
}

export interface GeminiUsage {
  promptTokenCount?: number;
  candidatesTokenCount?: number;
  thoughtsTokenCount?: number;
  toolUsePromptTokenCount?: number;
  cachedContentTokenCount?: number;
  totalTokenCount?: number;
}

export interface GeminiResponse {
  candidates?: Array<{ content?: { parts?: GeminiPart[] }; finishReason?: string; index?: number }>;
  promptFeedback?: { blockReason?: string };
  usageMetadata?: GeminiUsage;
  modelVersion?: string;
  responseId?: string;
}

const CONTENT_FILTER = new Set(['SAFETY', 'RECITATION', 'BLOCKLIST', 'PROHIBITED_CONTENT', 'SPII', 'LANGUAGE', 'IMAGE_SAFETY', 'IMAGE_PROHIBITED_CONTENT', 'IMAGE_RECITATION']);

export function finishReasonOf(reason: string | undefined, calledTools: boolean): FinishReason {
  if (reason === 'MAX_TOKENS') return 'length';
  if (reason !== undefined && CONTENT_FILTER.has(reason)) return 'content_filter';
  // Gemini ends a function-calling turn with STOP; MALFORMED_FUNCTION_CALL and friends have no
  // OpenAI equivalent and become stop (never an invented empty tool call).
  return calledTools ? 'tool_calls' : 'stop';
}

/** Gemini's candidatesTokenCount excludes thoughts; OpenAI's completion_tokens includes reasoning. */
export function usageOf(u: GeminiUsage | undefined): Usage | undefined {
  if (!u) return undefined;
  const prompt = (u.promptTokenCount ?? 0) + (u.toolUsePromptTokenCount ?? 0);
  const reasoning = u.thoughtsTokenCount ?? 0;
  const completion = (u.candidatesTokenCount ?? 0) + reasoning;
  return {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: u.totalTokenCount ?? prompt + completion,
    prompt_tokens_details: { cached_tokens: u.cachedContentTokenCount ?? 0 },
    completion_tokens_details: { reasoning_tokens: reasoning },
  };
}

export const newToolCallId = (): string => `call_${nodeCrypto().randomBytes(12).toString('base64url')}`;

/** A functionCall part as an OpenAI tool call; its signature and Gemini id are kept under our id. */
export function toolCallOf(part: GeminiPart, signatures: ThoughtSignatureStore, issuer: string): ToolCall {
  const call = part.functionCall!;
  const id = call.id && /^[\w-]{1,64}$/.test(call.id) ? call.id : newToolCallId();
  signatures.remember(id, { ...(part.thoughtSignature ? { signature: part.thoughtSignature, issuer } : {}), ...(call.id ? { upstreamId: call.id } : {}) });
  return { id, type: 'function', function: { name: String(call.name), arguments: JSON.stringify(call.args ?? {}) } };
}

export function geminiToCompletion(body: unknown, clientModel: string, signatures: ThoughtSignatureStore, issuer: string): ChatCompletion {
  const response = (Array.isArray(body) ? body[0] : body ?? {}) as GeminiResponse;
  const candidate = response.candidates?.[0];
  const texts: string[] = [];
  const toolCalls: ToolCall[] = [];
  for (const part of candidate?.content?.parts ?? []) {
    if (part.functionCall) toolCalls.push(toolCallOf(part, signatures, issuer));
    else if (typeof part.text === 'string' && !part.thought) texts.push(part.text);
  }
  const blocked = !candidate && response.promptFeedback?.blockReason !== undefined;
  const finish: FinishReason = blocked ? 'content_filter' : finishReasonOf(candidate?.finishReason, toolCalls.length > 0);
  const text = texts.join('');
  const completion: ChatCompletion = {
    id: response.responseId ? `chatcmpl-${response.responseId}` : `chatcmpl-${Date.now().toString(36)}`,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model: response.modelVersion ?? clientModel,
    choices: [
      {
        index: 0,
        message: {
          role: 'assistant',
          content: text === '' && (toolCalls.length > 0 || finish === 'content_filter') ? null : text,
          refusal: null,
          ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}),
        },
        logprobs: null,
        finish_reason: finish,
      },
    ],
  };
  const usage = usageOf(response.usageMetadata);
  if (usage) completion.usage = usage;
  return completion;
}
