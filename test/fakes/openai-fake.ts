// A fake OpenAI-compatible upstream with fault knobs, for driving the proxy in tests.
// Each request takes the next queued behaviour (or the default one) and is recorded.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { sendJson as json, sleep, startFakeServer, writeFrame, type FakeServer } from './fake-server.ts';

export interface FakeBehavior {
  /** HTTP status to answer with (default 200). */
  status?: number;
  /** Body for non-200 answers or to override the completion; objects are JSON-encoded. */
  body?: unknown;
  headers?: Record<string, string>;
  /** Wait before sending the status line and headers. */
  delayHeadersMs?: number;
  /** Text of the answer (streamed word by word when the request streams). */
  content?: string;
  /** Streaming: wait before the first event after the headers. */
  delayFirstTokenMs?: number;
  /** Streaming: wait between events (slow trickle). */
  delayBetweenMs?: number;
  /** Streaming: destroy the connection after this many content events. */
  dieAfterEvents?: number;
  /** Streaming: send an event that is not JSON after the first content event. */
  malformed?: boolean;
  /** Streaming: split every event's bytes in two, in the middle of a multi-byte character when possible. */
  splitUtf8?: boolean;
  /** Streaming: an error object as an event after the first content event. */
  midStreamError?: boolean;
  /** Streaming: wait after [DONE] before ending the response (a server slow to close its body). */
  delayEndMs?: number;
  /** The answer's finish_reason (default `stop`): a provider's own value, e.g. Mistral's `error`. */
  finishReason?: string;
}

export type { RecordedRequest } from './fake-server.ts';

export interface OpenAIFake extends FakeServer<FakeBehavior> {
  /** Base URL as a backend's baseURL (with /v1). */
  baseURL: string;
}

export async function startOpenAIFake(defaultBehavior: FakeBehavior = {}): Promise<OpenAIFake> {
  const server = await startFakeServer(answer, defaultBehavior);
  return Object.assign(server, { baseURL: `${server.url}/v1` });
}

async function answer(req: IncomingMessage, res: ServerResponse, body: any, b: FakeBehavior): Promise<void> { // eslint-disable-line @typescript-eslint/no-explicit-any
  if (b.delayHeadersMs) await sleep(b.delayHeadersMs);
  if (res.destroyed) throw new Error('closed');
  // As OpenAI's API: every answer carries its own request id (a behaviour's headers may replace it).
  res.setHeader('x-request-id', `req_${Math.random().toString(36).slice(2, 14)}`);
  const status = b.status ?? 200;
  const model = body?.model ?? 'fake-model';
  if (req.url?.endsWith('/embeddings')) {
    const inputs = Array.isArray(body?.input) ? body.input : [body?.input];
    return json(res, status, b.body ?? { object: 'list', model, data: inputs.map((_: unknown, index: number) => ({ object: 'embedding', index, embedding: [0.1, 0.2, 0.3] })), usage: { prompt_tokens: 3, total_tokens: 3 } }, b.headers);
  }
  if (status !== 200) return json(res, status, b.body ?? { error: { message: `fake failure ${status}`, type: 'server_error', param: null, code: null } }, b.headers);
  if (req.url?.endsWith('/moderations')) {
    return json(res, 200, { id: 'modr-fake', model, results: [{ flagged: false, categories: {}, category_scores: {} }] }, b.headers);
  }
  if (req.url?.endsWith('/audio/speech')) {
    // Binary audio, sent in several writes: a pass-through must relay it byte for byte.
    res.writeHead(200, { 'content-type': 'audio/mpeg', ...b.headers });
    for (let i = 0; i < 4; i++) {
      res.write(Buffer.from(Array.from({ length: 256 }, (_, j) => (i * 256 + j) % 256)));
      await sleep(b.delayBetweenMs ?? 2);
    }
    res.end();
    return;
  }
  const content = b.content ?? 'Hello there, friend.';
  const usage = { prompt_tokens: 9, completion_tokens: content.split(' ').length, total_tokens: 9 + content.split(' ').length };
  if (!body?.stream) {
    return json(res, 200, b.body ?? { id: 'chatcmpl-fake', object: 'chat.completion', created: 1760000000, model, choices: [{ index: 0, message: { role: 'assistant', content, refusal: null }, logprobs: null, finish_reason: b.finishReason ?? 'stop' }], usage }, b.headers);
  }
  res.writeHead(200, { 'content-type': 'text/event-stream', ...b.headers });
  res.flushHeaders();
  if (b.delayFirstTokenMs) await sleep(b.delayFirstTokenMs);
  const chunk = (delta: object, finish: string | null) => JSON.stringify({ id: 'chatcmpl-fake', object: 'chat.completion.chunk', created: 1760000000, model, choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }], ...(body?.stream_options?.include_usage ? { usage: null } : {}) });
  const events = [chunk({ role: 'assistant', content: '' }, null), ...content.split(/(?<= )/).map((w) => chunk({ content: w }, null)), chunk({}, b.finishReason ?? 'stop')];
  if (body?.stream_options?.include_usage) events.push(JSON.stringify({ id: 'chatcmpl-fake', object: 'chat.completion.chunk', created: 1760000000, model, choices: [], usage }));
  events.push('[DONE]');
  let contentEvents = 0;
  for (const data of events) {
    await writeFrame(res, `data: ${data}\n\n`, { splitUtf8: b.splitUtf8 });
    if (data.includes('"content":"') && !data.includes('"content":""')) {
      contentEvents += 1;
      if (b.malformed && contentEvents === 1) res.write('data: {not json\n\n');
      if (b.midStreamError && contentEvents === 1) {
        res.write(`data: ${JSON.stringify({ error: { message: 'the model crashed', type: 'server_error', code: 'model_crash' } })}\n\n`);
        res.end();
        return;
      }
      if (b.dieAfterEvents !== undefined && contentEvents >= b.dieAfterEvents) {
        res.destroy();
        throw new Error('died');
      }
    }
    if (b.delayBetweenMs) await sleep(b.delayBetweenMs);
  }
  if (b.delayEndMs) await sleep(b.delayEndMs);
  res.end();
}
