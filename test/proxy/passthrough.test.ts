// Other OpenAI endpoints (moderations, audio/speech...) through the proxy with the official openai
// SDK: routed by model, forwarded untouched with http-proxy to a backend that speaks them natively,
// with the backend's key and model; refused clearly when they cannot be.
import { afterAll, afterEach, beforeAll, describe, expect, test } from '@jest/globals';
import OpenAI, { toFile } from 'openai';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { once } from 'node:events';
import { startAnthropicFake, type AnthropicFake } from '#test/fakes/anthropic-server.ts';
import { startOpenAIFake, type OpenAIFake } from '#test/fakes/openai-fake.ts';
import { backend, startWith, waitFor, type Started } from './harness.ts';

let fake: OpenAIFake;
let anthropic: AnthropicFake;
let started: Started;

beforeAll(async () => {
  [fake, anthropic] = await Promise.all([startOpenAIFake(), startAnthropicFake()]);
  const claude = { name: 'claude', provider: 'anthropic' as const, model: 'claude-sonnet-4-5', baseURL: anthropic.url, credentials: { kind: 'env' as const, name: 'ANTHROPIC_KEY' } };
  started = await startWith(
    [
      { name: 'shop/mixed', models: ['mixed'], backends: [claude, backend('primary', fake.baseURL, { credentials: { kind: 'env', name: 'BACKEND_KEY' } })] },
      { name: 'shop/claude-only', models: ['claude'], backends: [claude] },
    ],
    { env: { BACKEND_KEY: 'sk-backend-secret', ANTHROPIC_KEY: 'a-key' } },
  );
});
afterAll(async () => {
  await started.close();
  await Promise.all([fake.close(), anthropic.close()]);
});
afterEach(() => {
  fake.requests.length = 0;
});

describe('pass-through of other /v1 endpoints', () => {
  test('moderations: routed by model to the first backend that speaks it, with its key and model', async () => {
    const { data, response } = await started.client.moderations.create({ model: 'mixed', input: 'is this fine?' }).withResponse();
    expect(data.results[0]!.flagged).toBe(false);
    expect(response.headers.get('x-llmroute-backend')).toBe('primary');
    const seen = fake.requests[0]!;
    expect(seen.url).toBe('/v1/moderations');
    expect(seen.body).toEqual({ model: 'primary-model', input: 'is this fine?' });
    expect(seen.headers.authorization).toBe('Bearer sk-backend-secret'); // the proxy's key, not the app's placeholder
    expect(anthropic.requests).toHaveLength(0);
  });

  test('audio/speech: a binary answer is relayed byte for byte', async () => {
    const speech = await started.client.audio.speech.create({ model: 'mixed', voice: 'alloy', input: 'hello' });
    const bytes = Buffer.from(await speech.arrayBuffer());
    expect(speech.headers.get('content-type')).toBe('audio/mpeg');
    expect(bytes.length).toBe(1024);
    expect([...bytes.subarray(250, 260)]).toEqual([250, 251, 252, 253, 254, 255, 0, 1, 2, 3]);
  });

  test('a route with no backend that speaks the endpoint natively is a 400 unsupported_operation', async () => {
    const error = await started.client.moderations.create({ model: 'claude', input: 'x' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect((error as InstanceType<typeof OpenAI.BadRequestError>).code).toBe('unsupported_operation');
  });

  test('an unknown model is a 404; a multipart upload is a 415 (routing needs a JSON model)', async () => {
    const notFound = await started.client.moderations.create({ model: 'nope', input: 'x' }).catch((e: unknown) => e);
    expect((notFound as InstanceType<typeof OpenAI.NotFoundError>).code).toBe('model_not_found');
    const upload = await started.client.audio.transcriptions.create({ model: 'mixed', file: await toFile(Buffer.from('RIFF'), 'a.wav') }).catch((e: unknown) => e);
    expect((upload as InstanceType<typeof OpenAI.APIError>).status).toBe(415);
    expect((upload as InstanceType<typeof OpenAI.APIError>).code).toBe('unsupported_media_type');
    expect(fake.requests).toHaveLength(0);
  });

  test('odd paths never reach a backend', async () => {
    for (const path of ['/v1/%2e%2e/admin', '/v1/Files', '/v1/a//b']) {
      const response = await fetch(`${started.proxy.llmUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'mixed' }) });
      expect(response.status).toBe(404);
      expect(((await response.json()) as { error: { code: string } }).error.code).toBe('unknown_url');
    }
    expect(fake.requests).toHaveLength(0);
  });

  test('a client that disconnects cancels the upstream call', async () => {
    fake.queue({ delayHeadersMs: 2000 });
    const abortedBefore = fake.aborted;
    const controller = new AbortController();
    const pending = started.client.moderations.create({ model: 'mixed', input: 'slow' }, { signal: controller.signal }).catch(() => undefined);
    await waitFor(() => fake.requests.length === 1);
    controller.abort();
    await pending;
    await waitFor(() => fake.aborted > abortedBefore);
  });

  test('an error answer that echoes the backend key reaches the client sanitized: no form of the key, the rest kept', async () => {
    const key = 'sk-backend-secret';
    fake.queue({ status: 401, body: { error: { message: `Incorrect API key provided: ${key}. Retry at https://api.example.com/v1?key=${key}`, type: 'invalid_request_error', param: null, code: 'invalid_api_key' } } });
    const response = await fetch(`${started.proxy.llmUrl}/v1/moderations`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'mixed', input: 'hi' }) });
    expect(response.status).toBe(401);
    const text = await response.text();
    for (let i = 0; i + 8 <= key.length; i++) expect(text).not.toContain(key.slice(i, i + 8));
    const { error } = JSON.parse(text) as { error: { message: string; code: string } };
    expect(error.message).toContain('Incorrect API key provided');
    expect(error.code).toBe('invalid_api_key');
  });
});

describe('pass-through: upstreams that break, stall or never connect', () => {
  let upstream: Server;
  let upstreamURL: string;
  let behaviour: (req: IncomingMessage, res: ServerResponse) => void;
  let proxy: Started;
  let upstreamClosed: number;

  beforeAll(async () => {
    upstream = createServer((req, res) => {
      req.resume();
      req.on('end', () => behaviour(req, res));
      res.on('close', () => upstreamClosed++);
    });
    upstream.listen(0, '127.0.0.1');
    await once(upstream, 'listening');
    upstreamURL = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/v1`;
    proxy = await startWith([{ name: 'shop/speech', models: ['speech'], backends: [backend('raw', upstreamURL, { timeouts: { totalMs: 400 } })] }]);
  });
  afterAll(async () => {
    await proxy.close();
    upstream.closeAllConnections();
    upstream.close();
  });

  const speech = () => fetch(`${proxy.proxy.llmUrl}/v1/audio/speech`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'speech', voice: 'alloy', input: 'hi' }) });
  /** How the client's read of the body ends: 'complete', 'cut' (an error), or 'hung' (nothing within 3 s). */
  const bodyOutcome = async (res: Response) =>
    Promise.race([
      res.arrayBuffer().then(() => 'complete', () => 'cut'),
      new Promise<string>((r) => setTimeout(() => r('hung'), 3000).unref()),
    ]);

  test('an upstream that dies mid-body cuts the client answer instead of leaving it waiting', async () => {
    behaviour = (_req, res) => {
      res.writeHead(200, { 'content-type': 'audio/mpeg', 'content-length': '1000' });
      res.write(Buffer.alloc(100));
      setTimeout(() => res.socket?.destroy(), 50);
    };
    const res = await speech();
    expect(res.status).toBe(200);
    expect(await bodyOutcome(res)).toBe('cut');
    await waitFor(() => proxy.proxy.inFlight() === 0); // not held forever (max-in-flight, drain)
  });

  test("the answer keeps the caller's x-request-id; the provider's own id comes as x-llmroute-upstream-request-id", async () => {
    behaviour = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'x-request-id': 'req_provider123' });
      res.end('{"id":"modr-1","model":"m","results":[]}');
    };
    const res = await fetch(`${proxy.proxy.llmUrl}/v1/moderations`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-request-id': 'mine-42' }, body: JSON.stringify({ model: 'speech', input: 'x' }) });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-request-id')).toBe('mine-42');
    expect(res.headers.get('x-llmroute-upstream-request-id')).toBe('req_provider123');
  });

  test('a redirect is never relayed: the SDK gets 502 and nothing reaches the Location', async () => {
    const trap: string[] = [];
    const elsewhere = createServer((req, res) => {
      trap.push(`${req.method} ${req.url}`);
      req.resume();
      res.end('{}');
    }).listen(0, '127.0.0.1');
    await once(elsewhere, 'listening');
    try {
      behaviour = (_req, res) => {
        res.writeHead(307, { location: `http://127.0.0.1:${(elsewhere.address() as AddressInfo).port}/exfil`, 'content-length': '0' });
        res.end();
      };
      const error = (await proxy.client.moderations.create({ model: 'speech', input: 'confidential text' }).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
      expect(error.status).toBe(502);
      expect(error.code).toBe('upstream_redirect');
      expect(error.headers?.get('location')).toBeNull();
      expect(trap).toEqual([]);
    } finally {
      elsewhere.close();
    }
  });

  test('an upstream that trickles bytes past the total timeout is cut, upstream call included', async () => {
    upstreamClosed = 0;
    behaviour = (_req, res) => {
      res.writeHead(200, { 'content-type': 'audio/mpeg' });
      const trickle = setInterval(() => res.write(Buffer.alloc(1)), 50);
      res.on('close', () => clearInterval(trickle));
    };
    const res = await speech();
    expect(await bodyOutcome(res)).toBe('cut');
    await waitFor(() => upstreamClosed === 1);
  });

  test('an answer that goes silent mid-body is cut after the idle timeout, upstream call included', async () => {
    const idle = await startWith([{ name: 'shop/idle', models: ['idle'], backends: [backend('raw', upstreamURL, { timeouts: { idleMs: 300, totalMs: 20_000 } })] }]);
    try {
      upstreamClosed = 0;
      behaviour = (_req, res) => {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write('data: {"type":"response.created"}\n\n'); // then nothing, connection kept open
      };
      const started = Date.now();
      const res = await fetch(`${idle.proxy.llmUrl}/v1/responses`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'idle', input: 'hi', stream: true }) });
      expect(res.status).toBe(200);
      expect(await bodyOutcome(res)).toBe('cut');
      expect(Date.now() - started).toBeLessThan(2900); // not the 20 s total (bodyOutcome says 'hung' at 3 s)
      await waitFor(() => upstreamClosed === 1);
      await waitFor(() => idle.proxy.inFlight() === 0);
    } finally {
      await idle.close();
    }
  });

  test('the connect timeout covers the TLS handshake of a forwarded request', async () => {
    const silent = createNetServer((socket) => socket.on('error', () => undefined)).listen(0, '127.0.0.1');
    await once(silent, 'listening');
    const port = (silent.address() as AddressInfo).port;
    const tls = await startWith([{ name: 'shop/tls', models: ['tls'], backends: [backend('tls', `https://127.0.0.1:${port}/v1`, { timeouts: { connectMs: 200, totalMs: 20_000 } })] }]);
    try {
      const res = await fetch(`${tls.proxy.llmUrl}/v1/moderations`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'tls', input: 'x' }) });
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect(res.status).toBe(502);
      expect(body.error.code).toBe('upstream_unreachable');
      expect(body.error.message).toContain('connect_timeout');
    } finally {
      await tls.close();
      silent.close();
    }
  });
});
