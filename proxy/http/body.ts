// Reads and checks a JSON request body: size limit (413), JSON syntax (400), the minimal shape (400).
import type { IncomingMessage } from 'node:http';
import type { ChatCompletionRequest, EmbeddingsRequest } from '../openai/types.ts';
import { ProxyError } from './errors.ts';
import { ClosedEarlyError, readUtf8, TooLargeError } from '../io/read-utf8.ts';

export async function readJsonBody(req: IncomingMessage, limitBytes: number): Promise<unknown> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limitBytes) throw tooLarge(limitBytes);
  let text: string;
  try {
    text = await readUtf8(req, limitBytes);
  } catch (err) {
    if (err instanceof TooLargeError) throw tooLarge(limitBytes);
    if (err instanceof ClosedEarlyError) throw new ProxyError(400, 'client_closed_request', 'the client closed the connection before sending the whole body');
    throw err;
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new ProxyError(400, 'invalid_json', 'the request body is not valid JSON');
  }
}

function tooLarge(limit: number): ProxyError {
  return new ProxyError(413, 'request_too_large', `the request body is larger than the limit of ${limit} bytes`);
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const ROLES = new Set(['system', 'developer', 'user', 'assistant', 'tool']);

export function checkChatRequest(body: unknown): ChatCompletionRequest {
  if (!isObject(body)) throw new ProxyError(400, 'invalid_request', 'the request body must be a JSON object');
  if (typeof body.model !== 'string' || body.model === '') throw new ProxyError(400, 'invalid_request', 'model is required and must be a string', { param: 'model' });
  if (!Array.isArray(body.messages) || body.messages.length === 0) throw new ProxyError(400, 'invalid_request', 'messages must be a non-empty array', { param: 'messages' });
  body.messages.forEach((m, i) => {
    if (!isObject(m) || typeof m.role !== 'string' || !ROLES.has(m.role)) {
      throw new ProxyError(400, 'invalid_request', `messages[${i}].role must be one of system, developer, user, assistant, tool`, { param: `messages[${i}].role` });
    }
  });
  if (body.stream !== undefined && body.stream !== null && typeof body.stream !== 'boolean') throw new ProxyError(400, 'invalid_request', 'stream must be a boolean', { param: 'stream' });
  return body as ChatCompletionRequest;
}

export function checkEmbeddingsRequest(body: unknown): EmbeddingsRequest {
  if (!isObject(body)) throw new ProxyError(400, 'invalid_request', 'the request body must be a JSON object');
  if (typeof body.model !== 'string' || body.model === '') throw new ProxyError(400, 'invalid_request', 'model is required and must be a string', { param: 'model' });
  const input = body.input;
  const ok = typeof input === 'string' || (Array.isArray(input) && input.length > 0);
  if (!ok) throw new ProxyError(400, 'invalid_request', 'input must be a string or a non-empty array', { param: 'input' });
  return body as EmbeddingsRequest;
}
