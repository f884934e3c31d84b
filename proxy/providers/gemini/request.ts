// OpenAI chat request -> Gemini generateContent request body. Pure apart from reading the
// thought-signature store; throws UnsupportedRequestError for what Gemini cannot honour.
import type { ChatCompletionRequest, ChatMessage, FunctionTool } from '../../openai/types.ts';
import { UnsupportedRequestError } from '../adapter.ts';
import { contentParts, maxOutputTokens, plainText, refuseUnsupported, stopSequences, toolArguments, toolNamesById, type NeutralPart } from '../translate/request-parts.ts';
import { geminiSchema } from './schema-subset.ts';
import { thinkingConfigFor } from './thinking.ts';
import { geminiVersion } from './model-generation.ts';
import type { ThoughtSignatureStore } from './thought-signatures.ts';

export interface GeminiRequestOptions {
  /** `parametersJsonSchema` takes JSON Schema as is; `parameters` is Gemini's OpenAPI subset (older models). */
  toolSchemaField: 'parametersJsonSchema' | 'parameters';
  signatures: ThoughtSignatureStore;
  /** The backend the request goes to (see thought-signatures.ts): only its own signatures are replayed. */
  issuer: string;
  /** The backend's model: thinking is controlled differently per generation (see thinking.ts). */
  model: string;
}

type Part = Record<string, unknown>;
interface Content {
  role: 'user' | 'model';
  parts: Part[];
}

const IMAGE_EXTENSIONS: Record<string, string> = { png: 'image/png', jpg: 'image/jpeg', jpeg: 'image/jpeg', gif: 'image/gif', webp: 'image/webp', heic: 'image/heic', heif: 'image/heif' };

function partsOf(parts: NeutralPart[], param: string): Part[] {
  return parts.map((p) => {
    if (p.kind === 'text') return { text: p.text };
    if (p.image.kind === 'inline') return { inlineData: { mimeType: p.image.mediaType, data: p.image.base64 } };
    const extension = /\.([a-z0-9]+)(?:[?#]|$)/i.exec(new URL(p.image.url).pathname)?.[1]?.toLowerCase();
    const mimeType = extension ? IMAGE_EXTENSIONS[extension] : undefined;
    if (!mimeType) {
      throw new UnsupportedRequestError('gemini backends take http(s) image URLs only with an image file extension (png, jpg, gif, webp); send a data: URL instead', 'unsupported_image_url', param);
    }
    return { fileData: { mimeType, fileUri: p.image.url } };
  });
}

function push(contents: Content[], content: Content): void {
  if (content.parts.length === 0) return;
  const last = contents[contents.length - 1];
  // Gemini demands alternation between user and model: merge consecutive same-role turns.
  if (last && last.role === content.role) last.parts.push(...content.parts);
  else contents.push(content);
}

/** A tool message's content as functionResponse.response (always an object; the result under `output`). */
function toolResponse(text: string): Record<string, unknown> {
  try {
    return { output: JSON.parse(text) as unknown };
  } catch {
    return { output: text };
  }
}

/**
 * Google's documented stand-in for a thought signature the proxy no longer has (it restarted, or the
 * tool loop began on another backend): Gemini 3 refuses a replayed function call without one (400
 * "Function call is missing a thought_signature"), and accepts this one in its place.
 */
export const SKIP_SIGNATURE = 'skip_thought_signature_validator';

function translateMessages(messages: ChatMessage[], signatures: ThoughtSignatureStore, issuer: string, signaturesRequired: boolean): { system: Part[]; contents: Content[] } {
  const system: Part[] = [];
  const contents: Content[] = [];
  const names = toolNamesById(messages);
  messages.forEach((m, i) => {
    const at = `messages[${i}].content`;
    switch (m.role) {
      case 'system':
      case 'developer': {
        const text = plainText(m.content, at);
        if (text !== '') system.push({ text });
        break;
      }
      case 'user':
        push(contents, { role: 'user', parts: partsOf(contentParts(m.content, at), at) });
        break;
      case 'assistant': {
        const parts = partsOf(contentParts(m.content, at), at);
        for (const [c, call] of (m.tool_calls ?? []).entries()) {
          const issued = signatures.recall(call.id);
          const functionCall: Record<string, unknown> = { name: call.function.name, args: toolArguments(call, `messages[${i}].tool_calls[${c}].function.arguments`) };
          if (issued?.upstreamId) functionCall.id = issued.upstreamId;
          const part: Part = { functionCall };
          if (issued?.signature && issued.issuer === issuer) part.thoughtSignature = issued.signature;
          // Gemini signs only the first call of a parallel set, and checks that one.
          else if (signaturesRequired && c === 0) part.thoughtSignature = SKIP_SIGNATURE;
          parts.push(part);
        }
        push(contents, { role: 'model', parts });
        break;
      }
      case 'tool': {
        const callId = m.tool_call_id;
        const name = typeof callId === 'string' ? names.get(callId) : undefined;
        if (!name) {
          throw new UnsupportedRequestError(`tool message ${i} answers no tool call of an earlier assistant message (gemini needs the function name)`, 'invalid_tool_message', `messages[${i}].tool_call_id`);
        }
        const functionResponse: Record<string, unknown> = { name, response: toolResponse(plainText(m.content, at)) };
        const upstreamId = signatures.recall(callId!)?.upstreamId;
        if (upstreamId) functionResponse.id = upstreamId;
        push(contents, { role: 'user', parts: [{ functionResponse }] });
        break;
      }
    }
  });
  return { system, contents };
}

function translateTools(tools: FunctionTool[], field: GeminiRequestOptions['toolSchemaField']): Record<string, unknown>[] {
  const declarations = tools.map((tool, i) => {
    if (tool.type !== 'function' || !tool.function?.name) {
      throw new UnsupportedRequestError('only function tools are supported by gemini backends', 'unsupported_tool_type', `tools[${i}]`);
    }
    const declaration: Record<string, unknown> = { name: tool.function.name };
    if (tool.function.description) declaration.description = tool.function.description;
    const parameters = tool.function.parameters;
    if (parameters && Object.keys(parameters).length > 0) {
      if (field === 'parametersJsonSchema') declaration.parametersJsonSchema = parameters;
      else {
        // An object without properties is refused by Gemini: a function without parameters says the same.
        const subset = geminiSchema(parameters);
        if (subset && !(subset.type === 'object' && subset.properties === undefined)) declaration.parameters = subset;
      }
    }
    return declaration;
  });
  return [{ functionDeclarations: declarations }];
}

function toolConfig(request: ChatCompletionRequest): Record<string, unknown> | undefined {
  const choice = request.tool_choice;
  if (choice === undefined) return undefined;
  if (choice === 'auto') return { functionCallingConfig: { mode: 'AUTO' } };
  if (choice === 'none') return { functionCallingConfig: { mode: 'NONE' } };
  if (choice === 'required') return { functionCallingConfig: { mode: 'ANY' } };
  if (typeof choice === 'object' && choice.type === 'function' && choice.function?.name) {
    return { functionCallingConfig: { mode: 'ANY', allowedFunctionNames: [choice.function.name] } };
  }
  throw new UnsupportedRequestError('tool_choice must be none, auto, required or a named function for gemini backends', 'unsupported_parameter_value', 'tool_choice');
}

function generationConfig(request: ChatCompletionRequest, model: string): Record<string, unknown> {
  const config: Record<string, unknown> = {};
  if (typeof request.temperature === 'number') config.temperature = request.temperature;
  if (typeof request.top_p === 'number') config.topP = request.top_p;
  const max = maxOutputTokens(request);
  if (max !== undefined) config.maxOutputTokens = max;
  const stop = stopSequences(request.stop);
  if (stop) config.stopSequences = stop;
  if (typeof request.seed === 'number') config.seed = request.seed;
  if (typeof request.presence_penalty === 'number' && request.presence_penalty !== 0) config.presencePenalty = request.presence_penalty;
  if (typeof request.frequency_penalty === 'number' && request.frequency_penalty !== 0) config.frequencyPenalty = request.frequency_penalty;
  const format = request.response_format;
  if (format?.type === 'json_object') config.responseMimeType = 'application/json';
  else if (format?.type === 'json_schema') {
    if (!format.json_schema?.schema) throw new UnsupportedRequestError('response_format.json_schema.schema is required', 'invalid_parameter', 'response_format');
    config.responseMimeType = 'application/json';
    config.responseJsonSchema = format.json_schema.schema;
  }
  const effort = request.reasoning_effort;
  const thinking = typeof effort === 'string' ? thinkingConfigFor(model, effort) : undefined;
  if (thinking) config.thinkingConfig = thinking;
  return config;
}

export function geminiRequestBody(request: ChatCompletionRequest, options: GeminiRequestOptions): Record<string, unknown> {
  refuseUnsupported(request, 'gemini', ['n', 'logprobs', 'logit_bias']);
  if (request.parallel_tool_calls === false) {
    throw new UnsupportedRequestError('parallel_tool_calls=false cannot be enforced by gemini backends', 'unsupported_parameter', 'parallel_tool_calls');
  }
  const { system, contents } = translateMessages(request.messages, options.signatures, options.issuer, (geminiVersion(options.model) ?? 0) >= 3);
  if (contents.length === 0) throw new UnsupportedRequestError('the request has no user or assistant message with content', 'invalid_messages', 'messages');
  const body: Record<string, unknown> = { contents };
  if (system.length > 0) body.systemInstruction = { parts: system };
  if (request.tools && request.tools.length > 0) body.tools = translateTools(request.tools, options.toolSchemaField);
  const config = toolConfig(request);
  if (config) body.toolConfig = config;
  const generation = generationConfig(request, options.model);
  if (Object.keys(generation).length > 0) body.generationConfig = generation;
  return body;
}
