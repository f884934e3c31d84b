// Pieces of an OpenAI chat request that every translating adapter (Anthropic, Gemini) reads the
// same way: text of a content value, images, tool-call arguments, parameters nobody else honours.
// Anything a provider cannot carry becomes an UnsupportedRequestError (a 400 with a stable code),
// never a silent drop.
import type { ChatCompletionRequest, ChatMessage, ContentPart, ToolCall } from '../../openai/types.ts';
import { UnsupportedRequestError } from '../adapter.ts';

export type ImageRef = { kind: 'inline'; mediaType: string; base64: string } | { kind: 'url'; url: string };

/** A user/assistant content value as text and image parts, in order (empty text parts dropped). */
export type NeutralPart = { kind: 'text'; text: string } | { kind: 'image'; image: ImageRef };

const DATA_URL = /^data:([a-z]+\/[a-z0-9.+-]+)(?:;[a-z0-9-]+=[^;,]*)*;base64,(.*)$/is;

export function imageRef(url: string, param: string): ImageRef {
  const data = DATA_URL.exec(url);
  if (data) {
    const mediaType = data[1]!.toLowerCase();
    // `image/jpg` is not a registered type, but browsers and OpenAI accept it; providers want image/jpeg.
    return { kind: 'inline', mediaType: mediaType === 'image/jpg' ? 'image/jpeg' : mediaType, base64: data[2]! };
  }
  if (/^https?:\/\//i.test(url)) return { kind: 'url', url };
  // The proxy never fetches arbitrary URLs; only data: URLs and http(s) URLs the provider fetches itself.
  throw new UnsupportedRequestError('image_url.url must be a data: URL with base64 data or an http(s) URL', 'unsupported_image_url', param);
}

export function contentParts(content: ChatMessage['content'], param: string): NeutralPart[] {
  if (content === undefined || content === null) return [];
  if (typeof content === 'string') return content === '' ? [] : [{ kind: 'text', text: content }];
  if (!Array.isArray(content)) throw new UnsupportedRequestError('content must be a string or an array of parts', 'invalid_content', param);
  const parts: NeutralPart[] = [];
  (content as ContentPart[]).forEach((part, i) => {
    const at = `${param}[${i}]`;
    if (part.type === 'text') {
      const text = (part as { text?: unknown }).text;
      if (typeof text !== 'string') throw new UnsupportedRequestError('a text part needs a string text', 'invalid_content', at);
      if (text !== '') parts.push({ kind: 'text', text });
    } else if (part.type === 'image_url') {
      const url = (part as { image_url?: { url?: unknown } }).image_url?.url;
      if (typeof url !== 'string') throw new UnsupportedRequestError('an image_url part needs image_url.url', 'invalid_content', at);
      parts.push({ kind: 'image', image: imageRef(url, `${at}.image_url.url`) });
    } else {
      throw new UnsupportedRequestError(`content parts of type ${JSON.stringify(part.type)} are not supported by this backend`, 'unsupported_content_part', at);
    }
  });
  return parts;
}

/** Text of a system/developer/tool message (text parts only, joined). */
export function plainText(content: ChatMessage['content'], param: string): string {
  return contentParts(content, param)
    .map((p) => {
      if (p.kind !== 'text') throw new UnsupportedRequestError('only text parts are allowed here', 'unsupported_content_part', param);
      return p.text;
    })
    .join('\n');
}

/** `function.arguments` (a JSON string) as the object Anthropic and Gemini want. */
export function toolArguments(call: ToolCall, param: string): Record<string, unknown> {
  const raw = call.function?.arguments;
  if (raw === undefined || raw === null || raw.trim() === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new UnsupportedRequestError(`tool call ${call.id} has arguments that are not valid JSON`, 'invalid_tool_arguments', param);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new UnsupportedRequestError(`tool call ${call.id} arguments must be a JSON object`, 'invalid_tool_arguments', param);
  }
  return parsed as Record<string, unknown>;
}

/** `stop` as a list (OpenAI accepts a string or up to 4 strings). */
export function stopSequences(stop: ChatCompletionRequest['stop']): string[] | undefined {
  if (stop === undefined || stop === null) return undefined;
  const list = typeof stop === 'string' ? [stop] : stop;
  if (list.some((s) => typeof s !== 'string' || s.trim() === '')) {
    throw new UnsupportedRequestError('stop sequences must be non-empty and not only whitespace for this backend', 'unsupported_parameter_value', 'stop');
  }
  return list.length > 0 ? list : undefined;
}

export function maxOutputTokens(request: ChatCompletionRequest): number | undefined {
  const value = request.max_completion_tokens ?? request.max_tokens ?? undefined;
  if (value === undefined) return undefined;
  if (!Number.isInteger(value) || value < 1) throw new UnsupportedRequestError('max_completion_tokens must be a positive integer', 'invalid_parameter', 'max_completion_tokens');
  return value;
}

/** Refuses OpenAI parameters with no equivalent upstream when they would change the answer. */
export function refuseUnsupported(request: ChatCompletionRequest, provider: string, names: ReadonlyArray<'n' | 'logprobs' | 'seed' | 'penalties' | 'logit_bias'>): void {
  const refuse = (param: string) => {
    throw new UnsupportedRequestError(`${param} is not supported by ${provider} backends`, 'unsupported_parameter', param);
  };
  for (const name of names) {
    if (name === 'n' && request.n !== undefined && request.n !== null && request.n !== 1) refuse('n');
    if (name === 'logprobs' && (request.logprobs === true || (typeof request.top_logprobs === 'number' && request.top_logprobs > 0))) refuse('logprobs');
    if (name === 'seed' && request.seed !== undefined && request.seed !== null) refuse('seed');
    if (name === 'penalties') {
      if (typeof request.presence_penalty === 'number' && request.presence_penalty !== 0) refuse('presence_penalty');
      if (typeof request.frequency_penalty === 'number' && request.frequency_penalty !== 0) refuse('frequency_penalty');
    }
    if (name === 'logit_bias' && request.logit_bias && typeof request.logit_bias === 'object' && Object.keys(request.logit_bias).length > 0) refuse('logit_bias');
  }
}

/** Names of the functions called in earlier assistant turns, by call id (Gemini needs them in responses). */
export function toolNamesById(messages: ChatMessage[]): Map<string, string> {
  const names = new Map<string, string>();
  for (const m of messages) for (const call of m.tool_calls ?? []) names.set(call.id, call.function.name);
  return names;
}
