// A fake Gemini API: POST /{version}/models/{model}:generateContent and :streamGenerateContent?alt=sse.
// It checks what the real API checks (key in x-goog-api-key or ?key=, an invalid key as a 400
// API_KEY_INVALID, user/model alternation, one functionResponse per functionCall with a name, no
// OBJECT with empty properties), streams bare `data:` events with no terminator (CRLF separators
// on request), sends function calls whole and ends tool turns with STOP.
// Proven faithful by @google/genai in test/fakes/gemini-server.test.ts.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { sendJson, sleep, startFakeServer, writeFrame, type FakeServer } from './fake-server.ts';

export interface GeminiBehavior {
  /** Answer with this HTTP status and a Google error body with `grpcStatus`. */
  status?: number;
  grpcStatus?: string;
  errorMessage?: string;
  /** The error body as `[{"error":...}]`. */
  arrayWrapped?: boolean;
  headers?: Record<string, string>;
  content?: string;
  toolCalls?: Array<{ name: string; args: Record<string, unknown>; id?: string; thoughtSignature?: string }>;
  /** A thought part before the answer. */
  thoughts?: string;
  /** 200 with promptFeedback.blockReason and no candidates. */
  blockReason?: string;
  finishReason?: string;
  usage?: { promptTokenCount: number; candidatesTokenCount: number; thoughtsTokenCount?: number; cachedContentTokenCount?: number };
  /** Separate events with \r\n\r\n. */
  crlf?: boolean;
  /** Streaming: an error event after the first text chunk. */
  midStreamError?: boolean;
  delayBetweenMs?: number;
  /** Streaming: destroy the connection after this many content chunks. */
  dieAfterEvents?: number;
  splitUtf8?: boolean;
}

export type GeminiFake = FakeServer<GeminiBehavior>;

export function startGeminiFake(defaultBehavior: GeminiBehavior = {}): Promise<GeminiFake> {
  return startFakeServer(answer, defaultBehavior);
}

const CODES: Record<number, string> = { 400: 'INVALID_ARGUMENT', 403: 'PERMISSION_DENIED', 404: 'NOT_FOUND', 429: 'RESOURCE_EXHAUSTED', 500: 'INTERNAL', 503: 'UNAVAILABLE', 504: 'DEADLINE_EXCEEDED' };

function googleError(res: ServerResponse, code: number, message: string, status = CODES[code] ?? 'UNKNOWN', details?: unknown[], arrayWrapped = false, headers: Record<string, string> = {}): void {
  const error = { error: { code, message, status, ...(details ? { details } : {}) } };
  sendJson(res, code, arrayWrapped ? [error] : error, headers);
}

/** Google's JSON parsers take lowerCamel and snake_case names alike. */
const pick = (o: any, camel: string): any => o?.[camel] ?? o?.[camel.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)]; // eslint-disable-line @typescript-eslint/no-explicit-any

type Part = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function invalid(body: any): string | undefined { // eslint-disable-line @typescript-eslint/no-explicit-any
  const contents = body?.contents;
  if (!Array.isArray(contents) || contents.length === 0) return '* GenerateContentRequest.contents: contents is not specified';
  let previousRole: string | undefined;
  let pendingCalls = 0;
  for (const [i, content] of contents.entries()) {
    const role = content.role ?? 'user';
    if (role !== 'user' && role !== 'model') return `* GenerateContentRequest.contents[${i}].role: must be user or model`;
    if (role === previousRole) return 'Please ensure that multiturn requests alternate between user and model.';
    previousRole = role;
    const parts: Part[] = content.parts ?? [];
    if (parts.length === 0) return `* GenerateContentRequest.contents[${i}].parts: contents.parts must not be empty.`;
    const responses = parts.filter((p) => pick(p, 'functionResponse'));
    if (pendingCalls > 0 && responses.length !== pendingCalls) {
      return 'Please ensure that the number of function response parts is equal to the number of function call parts of the function call turn.';
    }
    for (const r of responses) {
      const fr = pick(r, 'functionResponse');
      if (!fr.name) return `* GenerateContentRequest.contents[${i}].parts.function_response.name: Name cannot be empty.`;
      if (typeof fr.response !== 'object' || fr.response === null || Array.isArray(fr.response)) return `* GenerateContentRequest.contents[${i}].parts.function_response.response: must be an object`;
    }
    pendingCalls = role === 'model' ? parts.filter((p) => pick(p, 'functionCall')).length : 0;
  }
  for (const tool of body.tools ?? []) {
    for (const decl of pick(tool, 'functionDeclarations') ?? []) {
      const params = decl.parameters;
      if (params && String(params.type).toLowerCase() === 'object' && params.properties && Object.keys(params.properties).length === 0) {
        return `* GenerateContentRequest.tools[0].function_declarations.parameters.properties: should be non-empty for OBJECT type`;
      }
    }
  }
  return undefined;
}

async function answer(req: IncomingMessage, res: ServerResponse, body: any, b: GeminiBehavior): Promise<void> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const url = new URL(req.url ?? '/', 'http://fake');
  const match = /^\/(v1|v1beta|v1alpha)\/models\/([^/:]+):(generateContent|streamGenerateContent)$/.exec(url.pathname);
  if (req.method !== 'POST' || !match) return googleError(res, 404, `${req.method} ${url.pathname} is not found`);
  const key = req.headers['x-goog-api-key'] ?? url.searchParams.get('key');
  if (!key || key === 'bad-key') {
    return googleError(res, 400, 'API key not valid. Please pass a valid API key.', 'INVALID_ARGUMENT', [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'API_KEY_INVALID', domain: 'googleapis.com', metadata: { service: 'generativelanguage.googleapis.com' } }]);
  }
  if (b.status && b.status !== 200) return googleError(res, b.status, b.errorMessage ?? `fake failure ${b.status}`, b.grpcStatus, undefined, b.arrayWrapped, b.headers);
  const problem = invalid(body);
  if (problem) return googleError(res, 400, problem);

  const model = match[2]!;
  const stream = match[3] === 'streamGenerateContent';
  const responseId = `resp${Math.random().toString(36).slice(2, 10)}`;
  const calls = b.toolCalls ?? [];
  const text = b.content ?? (calls.length > 0 || b.blockReason ? '' : 'Hello from Gemini.');
  const usage = b.usage ?? { promptTokenCount: 11, candidatesTokenCount: Math.max(1, text.split(' ').length) };
  const usageMetadata = { ...usage, totalTokenCount: usage.promptTokenCount + usage.candidatesTokenCount + (usage.thoughtsTokenCount ?? 0) };
  const finishReason = b.finishReason ?? 'STOP';
  const callParts: Part[] = calls.map((c) => ({ functionCall: { name: c.name, args: c.args, ...(c.id ? { id: c.id } : {}) }, ...(c.thoughtSignature ? { thoughtSignature: c.thoughtSignature } : {}) }));
  const envelope = (parts: Part[], finish: string | undefined, withUsage: boolean) => ({
    candidates: [{ content: { role: 'model', parts }, ...(finish ? { finishReason: finish } : {}), index: 0 }],
    ...(withUsage ? { usageMetadata } : {}),
    modelVersion: model,
    responseId,
  });

  if (!stream) {
    if (b.blockReason) return sendJson(res, 200, { promptFeedback: { blockReason: b.blockReason }, usageMetadata, modelVersion: model, responseId }, b.headers);
    const parts: Part[] = [...(b.thoughts ? [{ text: b.thoughts, thought: true }] : []), ...(text ? [{ text }] : []), ...callParts];
    return sendJson(res, 200, envelope(parts, finishReason, true), b.headers);
  }

  res.writeHead(200, { 'content-type': 'text/event-stream', ...b.headers });
  res.flushHeaders();
  const separator = b.crlf ? '\r\n\r\n' : '\n\n';
  const send = (payload: unknown) => writeFrame(res, `data: ${JSON.stringify(payload)}${separator}`, b);
  if (b.blockReason) {
    await send({ promptFeedback: { blockReason: b.blockReason }, usageMetadata, modelVersion: model, responseId });
    res.end();
    return;
  }
  if (b.thoughts) await send(envelope([{ text: b.thoughts, thought: true }], undefined, false));
  const words = text ? text.split(/(?<= )/) : [];
  const chunks: Part[][] = words.map((w) => [{ text: w }]);
  if (callParts.length > 0) chunks.push(callParts); // calls arrive whole, in one chunk
  if (chunks.length === 0) chunks.push([]);
  for (const [n, parts] of chunks.entries()) {
    const last = n === chunks.length - 1;
    await send(envelope(parts, last ? finishReason : undefined, last || n === 0));
    if (b.midStreamError && n === 0) {
      await send({ error: { code: 503, message: 'The model is overloaded. Please try again later.', status: 'UNAVAILABLE' } });
      res.end();
      return;
    }
    if (b.dieAfterEvents !== undefined && n + 1 >= b.dieAfterEvents && !last) {
      await sleep(5);
      res.destroy();
      throw new Error('died');
    }
  }
  res.end();
}
