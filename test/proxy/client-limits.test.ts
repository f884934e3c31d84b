// What one client may hold of the LLM port: a cap on requests at once (503 at once, no queue), a stream
// whose client stops reading is cut with its upstream, and slow headers or bodies get 408.
import { afterEach, describe, expect, test } from '@jest/globals';
import { connect, type Socket } from 'node:net';
import { startOpenAIFake, type OpenAIFake } from '#test/fakes/openai-fake.ts';
import { backend, startWith, waitFor, type Started } from './harness.ts';

const route = (fake: OpenAIFake) => ({ name: 'chat', models: ['chat'], backends: [backend('up', fake.baseURL)] });

function rawClient(url: string): Promise<Socket> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => resolve(socket));
    socket.on('error', reject);
  });
}

/** Everything the server sends until it closes the connection. */
function readUntilClosed(socket: Socket): Promise<string> {
  let text = '';
  socket.on('data', (chunk: Buffer) => { text += chunk.toString('latin1'); });
  return new Promise((resolve) => socket.on('close', () => resolve(text)));
}

/** Sends `opening`, then `piece` every 50 ms (a slow client) until the server closes; what it answered. */
async function trickle(url: string, opening: string, piece: string): Promise<string> {
  const socket = await rawClient(url);
  const answer = readUntilClosed(socket);
  socket.write(opening);
  const timer = setInterval(() => socket.writable && socket.write(piece), 50);
  try {
    return await answer;
  } finally {
    clearInterval(timer);
  }
}

describe('client limits', () => {
  let fake: OpenAIFake;
  let s: Started;

  afterEach(async () => {
    await s?.close();
    await fake?.close();
  });

  test('past maxInFlight a request gets 503 overloaded with Retry-After at once, and never reaches an upstream', async () => {
    fake = await startOpenAIFake({ delayHeadersMs: 800 });
    s = await startWith([route(fake)], { limits: { maxInFlight: 2 } });
    const slow = [0, 1].map(() => s.client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] }));
    await waitFor(() => fake.requests.length === 2);

    const response = await fetch(`${s.proxy.llmUrl}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'one too many' }] }) });
    expect(response.status).toBe(503);
    expect(response.headers.get('retry-after')).toBe('1');
    expect(response.headers.get('x-should-retry')).toBe('true'); // nothing was retried for it: the SDK should
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe('overloaded');
    expect(fake.requests).toHaveLength(2);

    await Promise.all(slow); // the two admitted requests are served as usual
    const after = await s.client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'room again' }] });
    expect(after.choices[0]!.message.content).toBeTruthy();
  });

  test('while the heap is over its watermark a request gets 503 overloaded at once; under it again, it is served', async () => {
    fake = await startOpenAIFake();
    let usedPercent = 91;
    s = await startWith([route(fake)], { limits: { maxHeapPercent: 85 }, heapSampling: { sampleMs: 10, read: () => ({ usedBytes: usedPercent, limitBytes: 100 }) } });
    const refused = (await s.client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e)) as { status: number; code: string; message: string; headers: Headers };
    expect(refused).toMatchObject({ status: 503, code: 'overloaded' });
    expect(refused.message).toContain('short of memory (heap at 91% of its limit, over the 85% watermark)');
    expect(refused.headers.get('retry-after')).toBe('1');
    // Forwarded endpoints are refused alike.
    const forwarded = await fetch(`${s.proxy.llmUrl}/v1/moderations`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'chat', input: 'hi' }) });
    expect(forwarded.status).toBe(503);
    expect(fake.requests).toHaveLength(0);

    usedPercent = 60;
    await new Promise((r) => setTimeout(r, 50));
    const served = await s.client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] });
    expect(served.choices[0]!.message.content).toBe('Hello there, friend.');
  });

  test('the openai SDK retries an overloaded refusal after its Retry-After and gets its answer', async () => {
    fake = await startOpenAIFake({ delayHeadersMs: 500 });
    s = await startWith([route(fake)], { limits: { maxInFlight: 1 } });
    const first = s.client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'first' }] });
    await waitFor(() => fake.requests.length === 1);
    const second = await s.client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'second' }] }, { maxRetries: 2 }).withResponse();
    expect(second.data.choices[0]!.message.content).toBeTruthy();
    expect(fake.requests).toHaveLength(2);
    await first;
  });

  test('a stream whose client stops reading is cut after the write-stall limit, and so is its upstream call', async () => {
    fake = await startOpenAIFake();
    s = await startWith([route(fake)], { limits: { writeStallMs: 300 } });
    // About 40 MB of events over a few seconds: far more than the loopback socket buffers hold, and
    // still being written when the proxy gives up (so the fake sees its call cut).
    fake.queue({ content: Array.from({ length: 2000 }, () => 'x'.repeat(20_000)).join(' '), delayBetweenMs: 1 });
    const socket = await rawClient(s.proxy.llmUrl);
    const body = JSON.stringify({ model: 'chat', stream: true, messages: [{ role: 'user', content: 'hi' }] });
    socket.write(`POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    socket.pause(); // never read
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));

    await waitFor(() => fake.aborted === 1, 15_000);
    await waitFor(() => s.proxy.inFlight() === 0);
    socket.resume(); // what had reached the socket, then the end: the proxy closed the connection
    await closed;
  }, 30_000);

  test('a whole answer its client does not read stays in flight, and is cut after the write-stall limit', async () => {
    fake = await startOpenAIFake();
    // 8 MiB: far more than the loopback socket buffers hold.
    fake.setDefault({ body: { object: 'list', model: 'm', data: [{ object: 'embedding', index: 0, embedding: [0.1], pad: 'x'.repeat(8 * 1024 * 1024) }], usage: { prompt_tokens: 1, total_tokens: 1 } } });
    s = await startWith([route(fake)], { limits: { writeStallMs: 300 } });
    const socket = await rawClient(s.proxy.llmUrl);
    const body = JSON.stringify({ model: 'chat', input: 'hi' });
    socket.write(`POST /v1/embeddings HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    socket.pause(); // never read
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    await waitFor(() => fake.requests.length === 1);
    await waitFor(() => s.proxy.inFlight() === 1); // counted while its answer waits (max-in-flight, drains)
    await waitFor(() => s.proxy.inFlight() === 0, 10_000);
    socket.resume();
    await closed; // the proxy closed the connection: the answer is no longer held
  }, 30_000);

  test('a body that trickles in past the request timeout gets 408 and no upstream call', async () => {
    fake = await startOpenAIFake();
    s = await startWith([route(fake)], { limits: { requestTimeoutMs: 400, timeoutCheckMs: 100 } });
    const answer = await trickle(s.proxy.llmUrl, 'POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{', ' ');
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    expect(fake.requests).toHaveLength(0);
  });

  test('headers that never finish (slowloris) get 408 and the connection is closed', async () => {
    fake = await startOpenAIFake();
    s = await startWith([route(fake)], { limits: { headersTimeoutMs: 400, requestTimeoutMs: 400, timeoutCheckMs: 100 } });
    const answer = await trickle(s.proxy.llmUrl, 'POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\n', 'x-slow: 1\r\n');
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    expect(fake.requests).toHaveLength(0);
  });
});
