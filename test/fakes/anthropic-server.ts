// A fake Anthropic Messages API (POST /v1/messages) that checks what the real API checks (key,
// anthropic-version, max_tokens, non-empty text, tool_use answered by tool_result in the next turn,
// tool blocks need tools) and streams named events in the documented order with a ping inside.
// Proven faithful by @anthropic-ai/sdk in test/fakes/anthropic-server.test.ts.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { sendJson, sleep, startFakeServer, writeFrame, type FakeServer } from './fake-server.ts';

export interface AnthropicBehavior {
  /** Answer with this HTTP status and an Anthropic error body of `errorType`. */
  status?: number;
  errorType?: string;
  errorMessage?: string;
  headers?: Record<string, string>;
  /** Text of the answer (streamed word by word). */
  content?: string;
  /** Tool calls to make (stop_reason tool_use). */
  toolCalls?: Array<{ id?: string; name: string; input: Record<string, unknown> }>;
  /** A thinking block (with signature) before the text. */
  thinking?: string;
  usage?: { input_tokens: number; output_tokens: number; cache_read_input_tokens?: number; cache_creation_input_tokens?: number };
  stopReason?: string;
  /** Streaming: after the first text delta, an `event: error` (overloaded) and the end. */
  midStreamError?: boolean;
  /** Streaming: an overloaded `event: error` right after message_start (before any content). */
  errorAfterStart?: boolean;
  delayBetweenMs?: number;
  /** Streaming: destroy the connection after this many content deltas. */
  dieAfterEvents?: number;
  splitUtf8?: boolean;
}

export type AnthropicFake = FakeServer<AnthropicBehavior>;

export function startAnthropicFake(defaultBehavior: AnthropicBehavior = {}): Promise<AnthropicFake> {
  return startFakeServer(answer, defaultBehavior);
}

const requestId = () => `req_fake${Math.random().toString(36).slice(2, 10)}`;

function error(res: ServerResponse, status: number, type: string, message: string, headers: Record<string, string> = {}): void {
  const id = requestId();
  sendJson(res, status, { type: 'error', error: { type, message }, request_id: id }, { 'request-id': id, ...headers });
}

type Block = { type: string; text?: string; id?: string; tool_use_id?: string };
type Message = { role: string; content: string | Block[] };

/** What the real API refuses before generating anything. */
function invalid(body: any): string | undefined { // eslint-disable-line @typescript-eslint/no-explicit-any
  if (typeof body !== 'object' || body === null) return 'request body must be JSON';
  if (typeof body.max_tokens !== 'number') return 'max_tokens: Field required';
  if (!Array.isArray(body.messages) || body.messages.length === 0) return 'messages: at least one message is required';
  const messages = body.messages as Message[];
  let hasToolBlocks = false;
  for (const [i, m] of messages.entries()) {
    if (m.role !== 'user' && m.role !== 'assistant') return `messages.${i}.role: Input should be 'user' or 'assistant'`;
    const blocks: Block[] = typeof m.content === 'string' ? [{ type: 'text', text: m.content }] : m.content;
    for (const block of blocks) {
      if (block.type === 'text' && (block.text ?? '') === '') return 'messages: text content blocks must be non-empty';
      if (block.type === 'tool_use' || block.type === 'tool_result') hasToolBlocks = true;
    }
    const calls = blocks.filter((b) => b.type === 'tool_use').map((b) => b.id);
    if (calls.length > 0) {
      const next = messages[i + 1];
      const answered = new Set(next && next.role === 'user' && Array.isArray(next.content) ? next.content.filter((b) => b.type === 'tool_result').map((b) => b.tool_use_id) : []);
      const missing = calls.filter((id) => !answered.has(id));
      if (missing.length > 0) return `messages.${i + 1}: \`tool_use\` ids were found without \`tool_result\` blocks immediately after: ${missing.join(', ')}`;
    }
  }
  if (hasToolBlocks && !Array.isArray(body.tools)) return 'Requests which include `tool_use` or `tool_result` blocks must define tools.';
  if (body.system !== undefined && typeof body.system !== 'string' && !Array.isArray(body.system)) return 'system: Input should be a valid string or list';
  if (body.inference_geo !== undefined && body.inference_geo !== null && !['global', 'us'].includes(body.inference_geo)) return "inference_geo: Input should be 'global' or 'us'";
  return undefined;
}

async function answer(req: IncomingMessage, res: ServerResponse, body: any, b: AnthropicBehavior): Promise<void> { // eslint-disable-line @typescript-eslint/no-explicit-any
  if (req.method !== 'POST' || !req.url?.startsWith('/v1/messages')) return error(res, 404, 'not_found_error', `${req.method} ${req.url} not found`);
  const key = req.headers['x-api-key'] ?? (req.headers.authorization?.startsWith('Bearer ') ? req.headers.authorization.slice(7) : undefined);
  if (!key) return error(res, 401, 'authentication_error', 'x-api-key header is required');
  if (key === 'bad-key') return error(res, 401, 'authentication_error', 'invalid x-api-key');
  if (!req.headers['anthropic-version']) return error(res, 400, 'invalid_request_error', 'anthropic-version: header is required');
  if (b.status && b.status !== 200) {
    const headers = { ...(b.status === 429 || b.status === 529 ? { 'retry-after': '1' } : {}), ...b.headers };
    return error(res, b.status, b.errorType ?? 'api_error', b.errorMessage ?? `fake failure ${b.status}`, headers);
  }
  const problem = invalid(body);
  if (problem) return error(res, 400, 'invalid_request_error', problem);

  const text = b.content ?? (b.toolCalls ? '' : 'Hello from Claude.');
  const calls = (b.toolCalls ?? []).map((c, i) => ({ id: c.id ?? `toolu_fake${i}`, name: c.name, input: c.input }));
  const usage = b.usage ?? { input_tokens: 12, output_tokens: Math.max(1, text.split(' ').length + calls.length * 5) };
  const stopReason = b.stopReason ?? (calls.length > 0 ? 'tool_use' : 'end_turn');
  const id = `msg_fake${Math.random().toString(36).slice(2, 10)}`;
  // Where inference ran, as Anthropic reports it in usage (the geography asked for; global otherwise).
  const inferenceGeo = typeof body.inference_geo === 'string' ? body.inference_geo : 'global';
  const model = body.model;
  const content: Array<Record<string, unknown>> = [];
  if (b.thinking) content.push({ type: 'thinking', thinking: b.thinking, signature: 'EqQBfakesig' });
  if (text) content.push({ type: 'text', text });
  for (const c of calls) content.push({ type: 'tool_use', id: c.id, name: c.name, input: c.input });

  if (!body.stream) {
    return sendJson(res, 200, { id, type: 'message', role: 'assistant', model, content, stop_reason: stopReason, stop_sequence: null, usage: { cache_read_input_tokens: 0, cache_creation_input_tokens: 0, inference_geo: inferenceGeo, ...usage } }, { 'request-id': requestId(), ...b.headers });
  }

  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', 'request-id': requestId(), ...b.headers });
  res.flushHeaders();
  const send = (type: string, data: Record<string, unknown>) => writeFrame(res, `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`, b);
  await send('message_start', {
    message: { id, type: 'message', role: 'assistant', model, content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: usage.input_tokens, cache_read_input_tokens: usage.cache_read_input_tokens ?? 0, cache_creation_input_tokens: usage.cache_creation_input_tokens ?? 0, inference_geo: inferenceGeo, output_tokens: 1 } },
  });
  if (b.errorAfterStart) {
    await send('error', { error: { type: 'overloaded_error', message: 'Overloaded' } });
    res.end();
    return;
  }
  let deltas = 0;
  const counted = async () => {
    deltas += 1;
    if (b.dieAfterEvents !== undefined && deltas >= b.dieAfterEvents) {
      await sleep(5);
      res.destroy();
      throw new Error('died');
    }
  };
  let index = 0;
  if (b.thinking) {
    await send('content_block_start', { index, content_block: { type: 'thinking', thinking: '', signature: '' } });
    await send('content_block_delta', { index, delta: { type: 'thinking_delta', thinking: b.thinking } });
    await send('content_block_delta', { index, delta: { type: 'signature_delta', signature: 'EqQBfakesig' } });
    await send('content_block_stop', { index });
    index += 1;
  }
  if (text) {
    await send('content_block_start', { index, content_block: { type: 'text', text: '' } });
    await send('ping', {});
    for (const [n, word] of text.split(/(?<= )/).entries()) {
      await send('content_block_delta', { index, delta: { type: 'text_delta', text: word } });
      if (b.midStreamError && n === 0) {
        await send('error', { error: { type: 'overloaded_error', message: 'Overloaded' } });
        res.end();
        return;
      }
      await counted();
    }
    await send('content_block_stop', { index });
    index += 1;
  }
  for (const call of calls) {
    const json = JSON.stringify(call.input);
    const cut = Math.ceil(json.length / 2);
    await send('content_block_start', { index, content_block: { type: 'tool_use', id: call.id, name: call.name, input: {} } });
    for (const fragment of ['', json.slice(0, cut), json.slice(cut)]) {
      await send('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json: fragment } });
      await counted();
    }
    await send('content_block_stop', { index });
    index += 1;
  }
  await send('message_delta', { delta: { stop_reason: stopReason, stop_sequence: null }, usage: { output_tokens: usage.output_tokens } });
  await send('message_stop', {});
  res.end();
}
