// What an upstream can make the proxy hold (LLM05: upstream answers are untrusted input, B27): an
// error body is read up to 64 KiB and the rest cut off, a whole 2xx body up to 64 MiB (past it the
// response is destroyed and the attempt fails), one SSE event up to 16 Mi characters (past it the
// stream fails and the upstream is cut). First on the readers themselves, then through the proxy.
import { afterEach, describe, expect, test } from '@jest/globals';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { PassThrough } from 'node:stream';
import OpenAI from 'openai';
import { MAX_ERROR_BODY_BYTES, MAX_RESPONSE_BODY_BYTES, Pools, readText, ResponseTooLargeError } from '#proxy/upstream/pools.ts';
import { MAX_SSE_EVENT_CHARS, sseSource, SseEventTooLargeError } from '#proxy/upstream/sse.ts';
import { startFakeServer, type FakeServer } from '#test/fakes/fake-server.ts';
import { backend, startWith, waitFor, type Started } from '#test/proxy/harness.ts';

const MiB = 1024 * 1024;
const BLOCK = Buffer.alloc(64 * 1024, 'x');

/** Writes, then waits for the socket to drain (or close: a cut upstream must not hang the writer). */
function write(res: ServerResponse, chunk: Buffer | string): Promise<void> {
  if (res.write(chunk)) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

/** What a flooding upstream sent, and whether its response was cut before it finished. */
interface Flood {
  sent: number;
  cut: boolean;
}

/** Sends `head`, then `totalBytes` of 'x' (no line end) in 64 KiB blocks, then `tail`; stops when cut. */
async function flood(res: ServerResponse, head: string, totalBytes: number, stats: Flood, tail = ''): Promise<void> {
  await write(res, head);
  while (stats.sent < totalBytes) {
    if (res.destroyed || !res.writable) {
      stats.cut = true;
      throw new Error('closed');
    }
    await write(res, BLOCK);
    stats.sent += BLOCK.length;
  }
  res.end(tail);
}

const servers: Server[] = [];
const pools: Pools[] = [];
const fakes: FakeServer<unknown>[] = [];
const running: Started[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.close()));
  await Promise.all(fakes.splice(0).map((f) => f.close()));
  await Promise.all(pools.splice(0).map((p) => p.close()));
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    s.close();
  }
});

/** A loopback upstream; `closed()` counts the connections it saw closed. */
async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ url: string; connections: () => number; closed: () => number }> {
  let connections = 0;
  let closed = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => handler(req, res));
  });
  server.on('connection', (socket: Socket) => {
    connections++;
    socket.on('close', () => closed++);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  servers.push(server);
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/x`, connections: () => connections, closed: () => closed };
}

function newPools(): Pools {
  const p = new Pools();
  pools.push(p);
  return p;
}

const call = (url: string) => ({ method: 'POST', url, headers: { 'content-type': 'application/json' }, body: '{}', signal: new AbortController().signal, connectTimeoutMs: 2000 });

describe('readText', () => {
  test('a 2xx body past the limit rejects with ResponseTooLargeError and the response is cut', async () => {
    const stats: Flood = { sent: 0, cut: false };
    const up = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' }); // chunked: no Content-Length to go by
      void flood(res, '{"data":"', 64 * MiB, stats, '"}').catch(() => undefined);
    });
    const error = await readText(await newPools().send(call(up.url)), { bodyBytes: MiB }).catch((e: unknown) => e);
    // Booleans, not the values: without the bound the "error" is the whole body, too big to print.
    expect(error instanceof ResponseTooLargeError).toBe(true);
    expect((error as ResponseTooLargeError).code).toBe('upstream_response_too_large');
    await waitFor(() => up.closed() === 1);
    expect(stats.sent).toBeLessThan(16 * MiB);
  });

  test('a 2xx body whose Content-Length is past the limit is refused before it is read', async () => {
    const up = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(MAX_RESPONSE_BODY_BYTES + 1) });
      res.write('{"data":"'); // and never more: only the declared length can make this fail at once
    });
    const error = await readText(await newPools().send(call(up.url))).catch((e: unknown) => e);
    expect(error instanceof ResponseTooLargeError).toBe(true);
    await waitFor(() => up.closed() === 1);
  });

  test('a 2xx body within the limit is read whole, and the connection is reused', async () => {
    const body = JSON.stringify({ data: 'y'.repeat(2 * MiB) });
    const up = await serve((_req, res) => res.end(body));
    const p = newPools();
    expect(await readText(await p.send(call(up.url)), { bodyBytes: 4 * MiB })).toBe(body);
    expect(await readText(await p.send(call(up.url)), { bodyBytes: 4 * MiB })).toBe(body);
    expect(up.connections()).toBe(1);
  });

  test('an endless error body yields its first 64 KiB at once, and the response is cut', async () => {
    const stats: Flood = { sent: 0, cut: false };
    const head = '{"error":{"message":"too many requests","type":"rate_limit_error","code":"rate_limit_exceeded","padding":"';
    const up = await serve((_req, res) => {
      res.writeHead(429, { 'content-type': 'application/json' });
      void flood(res, head, Number.MAX_SAFE_INTEGER, stats).catch(() => undefined);
    });
    const text = await readText(await newPools().send(call(up.url)));
    expect(Buffer.byteLength(text)).toBe(MAX_ERROR_BODY_BYTES);
    expect(text.startsWith(head)).toBe(true);
    await waitFor(() => up.closed() === 1);
  });

  test('an error body within the limit is read whole, and the connection is reused', async () => {
    const body = JSON.stringify({ error: { message: 'bad request', type: 'invalid_request_error' } });
    const up = await serve((_req, res) => {
      res.statusCode = 400;
      res.end(body);
    });
    const p = newPools();
    expect(await readText(await p.send(call(up.url)))).toBe(body);
    expect(await readText(await p.send(call(up.url)))).toBe(body);
    expect(up.connections()).toBe(1);
  });
});

describe('sseSource event bound', () => {
  test('a line without its end past the limit fails the source and destroys the body; earlier events still arrive', async () => {
    const body = new PassThrough();
    const source = sseSource(body, 1000);
    body.write('data: {"a":1}\n\n');
    for (let i = 0; i < 5; i++) body.write('x'.repeat(300));
    expect(await source.next()).toEqual([{ data: '{"a":1}' }]);
    await expect(source.next()).rejects.toBeInstanceOf(SseEventTooLargeError);
    expect(body.destroyed).toBe(true);
  });

  test('an event of many data lines without its blank line is bounded too', async () => {
    const body = new PassThrough();
    const source = sseSource(body, 1000);
    for (let i = 0; i < 20; i++) body.write(`data: ${'y'.repeat(90)}\n`);
    await expect(source.next()).rejects.toBeInstanceOf(SseEventTooLargeError);
    expect(body.destroyed).toBe(true);
  });

  test('any number of events each below the limit pass', async () => {
    const body = new PassThrough();
    const source = sseSource(body, 1000);
    const event = `data: ${'z'.repeat(900)}\n\n`;
    for (let i = 0; i < 50; i++) body.write(event);
    body.end();
    let count = 0;
    for (let batch = await source.next(); batch !== undefined; batch = await source.next()) count += batch.length;
    expect(count).toBe(50);
  });

  test('the default limit is 16 Mi characters', () => {
    expect(MAX_SSE_EVENT_CHARS).toBe(16 * MiB);
  });
});

describe('through the proxy', () => {
  async function start(fake: FakeServer<unknown>, server?: { maxBodyBytes: number; maxResponseBytes?: number }): Promise<Started> {
    const s = await startWith([{ name: 'shop/chat', models: ['chat'], backends: [backend('a', `${fake.url}/v1`)], retries: { attempts: 0, backoffMs: 1, maxBackoffMs: 10 } }], server ? { extra: { server } } : {});
    running.push(s);
    return s;
  }

  async function fake(answer: (req: IncomingMessage, res: ServerResponse) => Promise<void>): Promise<FakeServer<unknown>> {
    const f = await startFakeServer<unknown>((req, res) => answer(req, res), undefined);
    fakes.push(f);
    return f;
  }

  /** Highest heap growth over the baseline while `run` goes on (the proxy runs in this process). */
  async function peakHeapGrowth<T>(run: () => Promise<T>): Promise<{ result: T; growth: number }> {
    const base = process.memoryUsage().heapUsed;
    let peak = base;
    const timer = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().heapUsed);
    }, 5);
    try {
      const result = await run();
      peak = Math.max(peak, process.memoryUsage().heapUsed);
      return { result, growth: peak - base };
    } finally {
      clearInterval(timer);
    }
  }

  const chunk = (content: string) => `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: { content }, finish_reason: null }] })}\n\n`;

  test('200 MB without a line end before the first token: 502, the upstream is cut, the heap stays far below 200 MB', async () => {
    const stats: Flood = { sent: 0, cut: false };
    const up = await fake(async (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      await flood(res, 'data: {"choices":[{"delta":{"content":"', 200 * 1000 * 1000, stats, '"}}]}\n\n');
    });
    const s = await start(up);
    const { result: error, growth } = await peakHeapGrowth(() => s.client.chat.completions.create({ model: 'chat', stream: true, messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e));
    expect(error).toBeInstanceOf(OpenAI.APIError);
    expect((error as InstanceType<typeof OpenAI.APIError>).status).toBe(502);
    await waitFor(() => up.aborted === 1);
    expect(stats.cut).toBe(true);
    expect(stats.sent).toBeLessThan(100 * MiB);
    expect(growth).toBeLessThan(64 * MiB);
  }, 60_000);

  test('200 MB without a line end after the first token: the stream ends with an error, the upstream is cut', async () => {
    const stats: Flood = { sent: 0, cut: false };
    const up = await fake(async (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      await write(res, chunk('Hello'));
      await flood(res, 'data: ', 200 * 1000 * 1000, stats, '\n\n');
    });
    const s = await start(up);
    const stream = await s.client.chat.completions.create({ model: 'chat', stream: true, messages: [{ role: 'user', content: 'hi' }] });
    let text = '';
    const error = await (async () => {
      for await (const c of stream) text += c.choices[0]?.delta.content ?? '';
    })().catch((e: unknown) => e);
    expect(text).toBe('Hello');
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toContain('sent an event larger than 16777216 characters');
    expect((error as { code?: string }).code).toBe('upstream_event_too_large');
    await waitFor(() => up.aborted === 1);
    expect(stats.sent).toBeLessThan(100 * MiB);
  }, 60_000);

  test('a non-streamed 2xx body past 64 MiB: 502, the upstream is cut', async () => {
    const stats: Flood = { sent: 0, cut: false };
    const up = await fake(async (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      await flood(res, '{"object":"list","data":[{"object":"embedding","index":0,"embedding":"', MAX_RESPONSE_BODY_BYTES + 8 * MiB, stats, '"}],"model":"m","usage":{"prompt_tokens":1,"total_tokens":1}}');
    });
    const s = await start(up);
    const error = await s.client.embeddings.create({ model: 'chat', input: 'hi', encoding_format: 'float' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.APIError);
    expect((error as InstanceType<typeof OpenAI.APIError>).status).toBe(502);
    expect((error as InstanceType<typeof OpenAI.APIError>).code).toBe('upstream_response_too_large');
    await waitFor(() => up.aborted === 1);
    expect(stats.sent).toBeLessThan(MAX_RESPONSE_BODY_BYTES + 8 * MiB);
  }, 60_000);

  test('a huge error body is still classified, and answered without reading it all', async () => {
    const stats: Flood = { sent: 0, cut: false };
    // An error that starts like a real one and never ends: only its head can be read.
    const up = await fake(async (_req, res) => {
      res.writeHead(400, { 'content-type': 'application/json' });
      await flood(res, '{"error":{"message":"bad request","type":"invalid_request_error","code":"bad","padding":"', Number.MAX_SAFE_INTEGER, stats);
    });
    const s = await start(up);
    const error = (await s.client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(error).toBeInstanceOf(OpenAI.APIError);
    expect(error.status).toBe(400);
    expect(error.error).toMatchObject({ type: 'invalid_request_error' });
    await waitFor(() => up.aborted === 1);
    expect(stats.sent).toBeLessThan(16 * MiB);
  }, 20_000);

  test('a huge retryable error body still fails over to the next backend', async () => {
    const stats: Flood = { sent: 0, cut: false };
    const busy = await fake(async (_req, res) => {
      res.writeHead(429, { 'content-type': 'application/json' });
      await flood(res, '{"error":{"message":"slow down","padding":"', Number.MAX_SAFE_INTEGER, stats);
    });
    const fine = await fake(async (_req, res) => {
      const body = JSON.stringify({ id: 'c', object: 'chat.completion', created: 1, model: 'm', choices: [{ index: 0, message: { role: 'assistant', content: 'from b', refusal: null }, logprobs: null, finish_reason: 'stop' }], usage: { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 } });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) });
      res.end(body);
    });
    const s = await startWith([{ name: 'shop/chat', models: ['chat'], backends: [backend('a', `${busy.url}/v1`), backend('b', `${fine.url}/v1`)], retries: { attempts: 0, backoffMs: 1, maxBackoffMs: 10 } }]);
    running.push(s);
    const answer = await s.client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] });
    expect(answer.choices[0]!.message.content).toBe('from b');
    await waitFor(() => busy.aborted === 1);
    expect(stats.sent).toBeLessThan(16 * MiB);
  }, 20_000);

  test('server.maxResponseBytes sets the cap: a 20 KB answer is refused under 4 KiB and served under 64 KiB', async () => {
    const answer = JSON.stringify({ id: 'c', object: 'chat.completion', created: 1, model: 'm', choices: [{ index: 0, message: { role: 'assistant', content: 'x'.repeat(20_000) }, finish_reason: 'stop' }] });
    const up = await fake(async (_req, res) => void res.writeHead(200, { 'content-type': 'application/json' }).end(answer));
    const small = await start(up, { maxBodyBytes: 1024 * 1024, maxResponseBytes: 4096 });
    const error = await small.client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e);
    expect((error as InstanceType<typeof OpenAI.APIError>).status).toBe(502);
    expect((error as InstanceType<typeof OpenAI.APIError>).code).toBe('upstream_response_too_large');
    const large = await start(up, { maxBodyBytes: 1024 * 1024, maxResponseBytes: 64 * 1024 });
    const completion = await large.client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] });
    expect(completion.choices[0]!.message.content).toHaveLength(20_000);
  });
});
