// Reads and checks a JSON request body: size limit (413), JSON syntax (400), the minimal shape (400).
import type { IncomingMessage } from 'node:http';
import type { ChatCompletionRequest, EmbeddingsRequest } from '../openai/types.ts';
import { ProxyError } from './errors.ts';

export async function readJsonBody(req: IncomingMessage, limitBytes: number): Promise<unknown> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limitBytes) throw tooLarge(limitBytes);
  const text = await readLimited(req, limitBytes);
  try {
    return JSON.parse(text);
  } catch {
    throw new ProxyError(400, 'invalid_json', 'the request body is not valid JSON');
  }
}

/**
 * The body as UTF-8, refused past the limit. Plain 'data'/'end' listeners rather than `for await`:
 * a stream's async iterator costs a promise and several closures per chunk on the hottest path.
 */
function readLimited(req: IncomingMessage, limitBytes: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limitBytes) {
        cleanup();
        req.resume(); // drain the rest so the answer can be sent on this connection
        reject(tooLarge(limitBytes));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8'));
    };
    const onError = (err: Error) => {
      cleanup();
      reject(err);
    };
    const onClose = () => {
      if (req.readableEnded) return;
      cleanup();
      reject(new ProxyError(400, 'client_closed_request', 'the client closed the connection before sending the whole body'));
    };
    const cleanup = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
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
