// An OpenAI-compatible streaming upstream whose pacing is scripted: slow headers, a gap between
// chunks, and a stall after a given chunk (then it carries on, as a stuck upstream that recovers
// would). Recorded and abort-counted like the other fakes (see fake-server.ts).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { sleep, startFakeServer, writeFrame, type FakeServer } from './fake-server.ts';

export interface ScriptedStream {
  /** Wait before sending the status line and headers. */
  delayHeadersMs?: number;
  /** The content chunks, in order (each one chat.completion.chunk event). */
  words?: string[];
  /** Wait after every event. */
  everyMs?: number;
  /** Start with a frame that carries no choices (Azure's prompt-filter results): nothing for the client. */
  filterFrameFirst?: boolean;
  /** Go silent for `stallMs` after this many content chunks (0: before the first chunk, headers sent). */
  stallAfter?: number;
  stallMs?: number;
  /** During the stall, an SSE comment (`: keep-alive`, as DeepSeek sends) every this many ms. */
  keepAliveEveryMs?: number;
}

export interface ScriptedStreamFake extends FakeServer<ScriptedStream> {
  /** Base URL as a backend's baseURL (with /v1). */
  baseURL: string;
}

export async function startScriptedStreamFake(defaultBehavior: ScriptedStream = {}): Promise<ScriptedStreamFake> {
  const server = await startFakeServer(answer, defaultBehavior);
  return Object.assign(server, { baseURL: `${server.url}/v1` });
}

async function answer(_req: IncomingMessage, res: ServerResponse, body: any, b: ScriptedStream): Promise<void> { // eslint-disable-line @typescript-eslint/no-explicit-any
  if (b.delayHeadersMs) await sleep(b.delayHeadersMs);
  if (res.destroyed) throw new Error('closed');
  const model = body?.model ?? 'fake-model';
  const words = b.words ?? ['Hello ', 'there.'];
  const chunk = (delta: object, finish: string | null) =>
    `data: ${JSON.stringify({ id: 'chatcmpl-scripted', object: 'chat.completion.chunk', created: 1760000000, model, choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }] })}\n\n`;
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  res.flushHeaders();
  const pace = { delayBetweenMs: b.everyMs };
  if (b.filterFrameFirst) await writeFrame(res, `data: ${JSON.stringify({ id: '', object: '', created: 0, model: '', choices: [], prompt_filter_results: [] })}\n\n`, pace);
  if (b.stallAfter === 0 && b.stallMs) await sleep(b.stallMs);
  await writeFrame(res, chunk({ role: 'assistant', content: '' }, null), pace);
  for (let i = 0; i < words.length; i++) {
    await writeFrame(res, chunk({ content: words[i] }, null), pace);
    if (b.stallAfter === i + 1 && b.stallMs) await stall(res, b.stallMs, b.keepAliveEveryMs);
  }
  await writeFrame(res, chunk({}, 'stop'), pace);
  await writeFrame(res, 'data: [DONE]\n\n', {});
  res.end();
}

async function stall(res: ServerResponse, ms: number, keepAliveEveryMs: number | undefined): Promise<void> {
  if (!keepAliveEveryMs) {
    await sleep(ms);
    return;
  }
  for (let waited = 0; waited < ms; waited += keepAliveEveryMs) {
    await sleep(keepAliveEveryMs);
    if (res.destroyed) throw new Error('closed');
    res.write(': keep-alive\n\n');
  }
}
