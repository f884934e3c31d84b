// The upstream connection pools: keep-alive reuse, the one transparent resend when a pooled
// connection turns out to be closed, aborts at every stage, and no redirect following.
import { afterEach, describe, expect, test } from '@jest/globals';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { Pools, readText } from '#proxy/upstream/pools.ts';

const servers: Server[] = [];
const pools: Pools[] = [];
afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.close()));
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    s.close();
  }
});

async function serve(handler: (req: IncomingMessage, res: ServerResponse, requestOnSocket: number) => void): Promise<{ url: URL; connections: () => number }> {
  const perSocket = new WeakMap<Socket, number>();
  let connections = 0;
  const server = createServer((req, res) => {
    const n = (perSocket.get(req.socket) ?? 0) + 1;
    perSocket.set(req.socket, n);
    req.resume();
    req.on('end', () => handler(req, res, n));
  });
  server.on('connection', () => connections++);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  servers.push(server);
  return { url: new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/x`), connections: () => connections };
}

function newPools(): Pools {
  const p = new Pools();
  pools.push(p);
  return p;
}

const call = (url: URL, signal = new AbortController().signal) => ({ method: 'POST', url: url.href, headers: { 'content-type': 'application/json' }, body: '{"a":1}', signal, connectTimeoutMs: 2000 });

describe('upstream pools', () => {
  test('sequential calls reuse one keep-alive connection', async () => {
    const up = await serve((_req, res) => res.end('ok'));
    const p = newPools();
    for (let i = 0; i < 5; i++) {
      expect(await readText(await p.send(call(up.url)))).toBe('ok');
      // readText answers with a body already buffered before the response's 'end' hands the connection
      // back (a tick later, after the proxy wrote its answer): the next call comes from later I/O.
      await new Promise(setImmediate);
    }
    expect(up.connections()).toBe(1);
  });

  test('a body that arrives after its head, or in pieces, is read whole', async () => {
    const [head, rest] = ['{"text":"caf', '\u00e9 cr\u00e8me"}'];
    const length = Buffer.byteLength(head + rest);
    const up = await serve((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', ...(req.headers['x-chunked'] ? {} : { 'content-length': length }) });
      res.write(head);
      setTimeout(() => res.end(rest), 20);
    });
    const p = newPools();
    expect(await readText(await p.send(call(up.url)))).toBe('{"text":"café crème"}');
    expect(await readText(await p.send({ ...call(up.url), headers: { 'x-chunked': '1' } }))).toBe('{"text":"café crème"}');
  });

  test('a pooled connection the upstream dropped is resent once on a fresh one', async () => {
    // The second request on any connection is cut without an answer: what a request sees when it
    // races the upstream closing an idle keep-alive connection.
    const up = await serve((req, res, n) => (n >= 2 ? req.socket.destroy() : res.end(`answer ${n}`)));
    const p = newPools();
    expect(await readText(await p.send(call(up.url)))).toBe('answer 1');
    await new Promise(setImmediate); // the first connection is back in the pool
    expect(await readText(await p.send(call(up.url)))).toBe('answer 1');
    expect(up.connections()).toBe(2);
  });

  test('a fresh connection that is cut is an error, not resent', async () => {
    let seen = 0;
    const up = await serve((req) => {
      seen++;
      req.socket.destroy();
    });
    const error = await newPools().send(call(up.url)).catch((e: unknown) => e);
    expect((error as { code?: string }).code).toBe('ECONNRESET');
    expect(seen).toBe(1);
  });

  test('aborting while waiting for the head destroys the request; aborting after a complete body is harmless', async () => {
    let closedEarly = false;
    const up = await serve((req, res) => {
      if (req.headers['x-slow']) {
        res.on('close', () => (closedEarly = !res.writableFinished));
        return;
      }
      res.end('done');
    });
    const p = newPools();
    const controller = new AbortController();
    const pending = p.send({ ...call(up.url, controller.signal), headers: { 'x-slow': '1' } });
    setTimeout(() => controller.abort(), 50);
    await expect(pending).rejects.toMatchObject({ code: 'aborted' });
    for (let i = 0; i < 100 && !closedEarly; i++) await new Promise((r) => setTimeout(r, 10));
    expect(closedEarly).toBe(true);

    // The response is complete and its connection back in the pool: a late abort must not tear down
    // the pooled socket (an unhandled error) nor fail the next call.
    const late = new AbortController();
    const res = await p.send(call(up.url, late.signal));
    for (let i = 0; i < 100 && !res.complete; i++) await new Promise((r) => setTimeout(r, 10));
    late.abort(); // the body has arrived but is not read yet (a translator that stopped early)
    await new Promise((r) => setTimeout(r, 20));
    expect(await readText(res)).toBe('done');
    expect(await readText(await p.send(call(up.url)))).toBe('done');
  });

  test('redirects are returned as they are, never followed', async () => {
    let hits = 0;
    const up = await serve((_req, res) => {
      hits++;
      res.writeHead(307, { location: 'http://169.254.169.254/latest/meta-data' }).end();
    });
    const res = await newPools().send(call(up.url));
    expect(res.statusCode).toBe(307);
    await readText(res);
    expect(hits).toBe(1);
  });
});
