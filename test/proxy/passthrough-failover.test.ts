// Pass-through endpoints fail over only when the last backend cannot have processed the request:
// it was never reached (connection refused) or refused it unprocessed (429, 503). Anything else is
// the answer, since those endpoints need not be idempotent, and a request naming state stored with
// one account (previous_response_id...) stays with its backend. Driven by the official openai SDK.
import { afterEach, describe, expect, test } from '@jest/globals';
import OpenAI from 'openai';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { once } from 'node:events';
import { freePort } from '#test/free-port.ts';
import { neverDelivered, refusedUnprocessed, storedStateReference } from '#proxy/routing/undelivered.ts';
import { backend, startWith, type Started } from './harness.ts';

interface Upstream {
  url: string;
  /** Bodies received, in order. */
  received: Array<Record<string, unknown>>;
  close(): Promise<void>;
}

/** An upstream answering every request with `answer(res)`, recording what it received. */
async function upstream(answer: (res: ServerResponse) => void): Promise<Upstream> {
  const received: Array<Record<string, unknown>> = [];
  const server: Server = createServer((req: IncomingMessage, res) => {
    let text = '';
    req.setEncoding('utf8').on('data', (c: string) => (text += c)).on('end', () => {
      received.push(JSON.parse(text) as Record<string, unknown>);
      answer(res);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`,
    received,
    close: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}) => (res: ServerResponse) => {
  res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
};
const moderation = json(200, { id: 'modr-1', model: 'omni-moderation-latest', results: [{ flagged: false, categories: {}, category_scores: {} }] });
const rateLimited = json(429, { error: { message: 'Rate limit reached', type: 'requests', param: null, code: 'rate_limit_exceeded' } }, { 'retry-after': '30' });

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all(cleanups.splice(0).map((c) => c()));
});

async function proxyFor(...baseURLs: string[]): Promise<Started> {
  const started = await startWith([{ name: 'shop/mod', models: ['mod'], backends: baseURLs.map((url, i) => backend(`b${i + 1}`, url)) }]);
  cleanups.push(() => started.close());
  return started;
}
async function serve(answer: (res: ServerResponse) => void): Promise<Upstream> {
  const u = await upstream(answer);
  cleanups.push(() => u.close());
  return u;
}

describe('pass-through failover', () => {
  test('a 429 goes to the next backend, once; the answer says which backend and how many attempts', async () => {
    const [first, second] = await Promise.all([serve(rateLimited), serve(moderation)]);
    const { client } = await proxyFor(first.url, second.url);
    const { data, response } = await client.moderations.create({ model: 'mod', input: 'fine?' }).withResponse();
    expect(data.results[0]!.flagged).toBe(false);
    expect(response.headers.get('x-llmroute-backend')).toBe('b2');
    expect(response.headers.get('x-llmroute-attempts')).toBe('2');
    expect(first.received).toEqual([{ model: 'b1-model', input: 'fine?' }]);
    expect(second.received).toEqual([{ model: 'b2-model', input: 'fine?' }]);
  });

  test('a backend that cannot be connected to is passed over', async () => {
    const second = await serve(moderation);
    const { client } = await proxyFor(`http://127.0.0.1:${await freePort()}/v1`, second.url);
    const { response } = await client.moderations.create({ model: 'mod', input: 'x' }).withResponse();
    expect(response.headers.get('x-llmroute-backend')).toBe('b2');
    expect(second.received).toHaveLength(1);
  });

  test('a 500 may have been processed: it is the answer, and the next backend never sees the request', async () => {
    const [first, second] = await Promise.all([serve(json(500, { error: { message: 'boom', type: 'server_error', param: null, code: null } })), serve(moderation)]);
    const { client } = await proxyFor(first.url, second.url);
    const error = await client.moderations.create({ model: 'mod', input: 'x' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.InternalServerError);
    expect(second.received).toHaveLength(0);
  });

  test('a request naming state stored with the first backend stays there: its 429 is the answer', async () => {
    const [first, second] = await Promise.all([serve(rateLimited), serve(json(200, { id: 'resp_2', object: 'response', output: [] }))]);
    const { client } = await proxyFor(first.url, second.url);
    const error = await client.responses.create({ model: 'mod', input: 'and then?', previous_response_id: 'resp_1' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.RateLimitError);
    expect((error as InstanceType<typeof OpenAI.RateLimitError>).code).toBe('rate_limit_exceeded'); // the upstream's own answer, relayed
    expect(second.received).toHaveLength(0);
  });

  test("the last backend's refusal is relayed as it came", async () => {
    const [first, second] = await Promise.all([serve(rateLimited), serve(json(503, { error: { message: 'overloaded', type: 'server_error', param: null, code: 'engine_overloaded' } }))]);
    const { client } = await proxyFor(first.url, second.url);
    const error = (await client.moderations.create({ model: 'mod', input: 'x' }).then(() => undefined, (e: unknown) => e)) as { status?: number; code?: string; headers?: Headers };
    expect(error).toMatchObject({ status: 503, code: 'engine_overloaded' });
    expect(error.headers?.get('x-llmroute-attempts')).toBe('2');
  });

  test('a backend that asked for a pause (Retry-After) is tried last by the next requests', async () => {
    const [first, second] = await Promise.all([serve(rateLimited), serve(moderation)]);
    const { client } = await proxyFor(first.url, second.url);
    await client.moderations.create({ model: 'mod', input: 'one' });
    const { response } = await client.moderations.create({ model: 'mod', input: 'two' }).withResponse();
    expect(response.headers.get('x-llmroute-attempts')).toBe('1');
    expect(first.received.map((b) => b.input)).toEqual(['one']);
    expect(second.received.map((b) => b.input)).toEqual(['one', 'two']);
  });
});

describe('what may fail over (pure)', () => {
  test('only errors before the request could be delivered, and only 429 and 503', () => {
    expect(['ECONNREFUSED', 'ENOTFOUND', 'connect_timeout', 'EHOSTUNREACH'].every((code) => neverDelivered(code))).toBe(true);
    expect(['ECONNRESET', 'EPIPE', 'ETIMEDOUT', undefined].some((code) => neverDelivered(code))).toBe(false);
    expect(neverDelivered('EHOSTUNREACH', true)).toBe(false); // the connection was up: the request may have gone
    expect(refusedUnprocessed(429)).toBe(true);
    expect(refusedUnprocessed(503, { 'content-type': 'application/json' })).toBe(true);
    expect(refusedUnprocessed(503, { 'retry-after': '2' })).toBe(true);
    // A mesh's "upstream connect error or disconnect/reset before headers": it may have been delivered.
    expect(refusedUnprocessed(503, { 'content-type': 'text/plain', server: 'envoy' })).toBe(false);
    expect([500, 502, 504, 400, 408].some((status) => refusedUnprocessed(status, { 'retry-after': '1', 'content-type': 'application/json' }))).toBe(false);
  });

  test('fields naming stored objects bind a request to its backend', () => {
    expect(storedStateReference({ model: 'm', previous_response_id: 'resp_1' })).toBe('previous_response_id');
    expect(storedStateReference({ model: 'm', conversation: 'conv_1' })).toBe('conversation');
    expect(storedStateReference({ model: 'm', file_ids: ['file-1'] })).toBe('file_ids');
    expect(storedStateReference({ model: 'm', previous_response_id: null, input: 'x' })).toBeUndefined();
    expect(storedStateReference({ model: 'm', input: 'x', user: 'u' })).toBeUndefined();
    // Nested: a file in an input item, a tool's vector stores, a stored prompt, a fine-tuning file.
    expect(storedStateReference({ model: 'm', input: [{ role: 'user', content: [{ type: 'input_file', file_id: 'file-1' }] }] })).toBe('input[0].content[0].file_id');
    expect(storedStateReference({ model: 'm', tools: [{ type: 'file_search', vector_store_ids: ['vs_1'] }] })).toBe('tools[0].vector_store_ids');
    expect(storedStateReference({ model: 'm', prompt: { id: 'pmpt_1' } })).toBe('prompt.id');
    expect(storedStateReference({ model: 'm', training_file: 'file-2' })).toBe('training_file');
    expect(storedStateReference({ model: 'm', input: [{ id: 'x', content: 'text' }] })).toBeUndefined();
  });
});

describe('pass-through: attempts that are over stay over', () => {
  test('a refused answer whose connection resets while it is drained does not touch the next attempt', async () => {
    const first = await serve((res) => {
      res.writeHead(429, { 'content-type': 'application/json', 'content-length': '1000' });
      res.write('{"error":');
      setTimeout(() => res.socket?.resetAndDestroy(), 20);
    });
    const second = await serve((res) => void setTimeout(() => moderation(res), 300));
    const { client } = await proxyFor(first.url, second.url);
    const { data, response } = await client.moderations.create({ model: 'mod', input: 'x' }).withResponse();
    expect(data.id).toBe('modr-1');
    expect(response.headers.get('x-llmroute-backend')).toBe('b2');
    // The sidecar is still there (it used to answer 502 for the reset, then crash writing the second answer).
    expect((await client.moderations.create({ model: 'mod', input: 'y' }).withResponse()).response.status).toBe(200);
  });

  test('a request still waiting for a pooled connection when its time is up (or its client leaves) is never sent', async () => {
    const seen: string[] = [];
    const slow = await serve((res) => void setTimeout(() => moderation(res), 2500));
    // The same upstream, answering at once, counts what reached it: the pool (128 connections per
    // origin) is shared, so the hogs below hold all of it.
    const origin = slow.url;
    const started = await startWith([
      { name: 'shop/hog', models: ['hog'], backends: [backend('hog', origin)] },
      { name: 'shop/late', models: ['late'], backends: [backend('late', origin, { timeouts: { totalMs: 300 } })] },
    ]);
    cleanups.push(() => started.close());
    const post = (model: string, input: string, signal?: AbortSignal) =>
      fetch(`${started.proxy.llmUrl}/v1/moderations`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model, input }), ...(signal ? { signal } : {}) });
    const hogs = Array.from({ length: 128 }, () => post('hog', 'hog').then((r) => r.status));
    await new Promise((r) => setTimeout(r, 300));
    const timedOut = await post('late', 'timed-out');
    expect(timedOut.status).toBe(504);
    const leaving = new AbortController();
    const left = post('late', 'client-left', leaving.signal).catch(() => 'aborted');
    setTimeout(() => leaving.abort(), 100);
    expect(await left).toBe('aborted');
    expect(await Promise.all(hogs)).toEqual(Array(128).fill(200));
    await new Promise((r) => setTimeout(r, 300));
    for (const body of slow.received) seen.push(String(body.input));
    expect(seen.filter((input) => input !== 'hog')).toEqual([]); // neither was delivered once a connection freed up
  }, 15_000);
});
