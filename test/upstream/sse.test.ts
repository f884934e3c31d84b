// The SSE reader under the stream translators: every separator the providers use, comments, and
// UTF-8 characters split across network chunks.
import { describe, expect, test } from '@jest/globals';
import { PassThrough, Readable } from 'node:stream';
import { sseSource } from '#proxy/upstream/sse.ts';
import { ClosedEarlyError } from '#proxy/io/read-utf8.ts';
import type { SseEvent } from '#proxy/providers/adapter.ts';

async function read(chunks: Uint8Array[]): Promise<SseEvent[]> {
  const events: SseEvent[] = [];
  const source = sseSource(Readable.from(chunks.map((c) => Buffer.from(c))));
  for (let batch = await source.next(); batch !== undefined; batch = await source.next()) events.push(...batch);
  return events;
}

const bytes = (s: string) => new TextEncoder().encode(s);

describe('sseSource', () => {
  test.each([
    ['\\n\\n', '\n\n'],
    ['\\r\\n\\r\\n (Gemini)', '\r\n\r\n'],
    ['\\r\\r', '\r\r'],
  ])('events separated by %s', async (_name, separator) => {
    const events = await read([bytes(`data: {"a":1}${separator}data: {"a":2}${separator}`)]);
    expect(events).toEqual([{ data: '{"a":1}' }, { data: '{"a":2}' }]);
  });

  test('named events (Anthropic) keep their name; comments (DeepSeek keep-alive) are skipped', async () => {
    const events = await read([bytes(': keep-alive\n\nevent: message_start\ndata: {"type":"message_start"}\n\n: ping\n\nevent: ping\ndata: {"type":"ping"}\n\n')]);
    expect(events).toEqual([
      { event: 'message_start', data: '{"type":"message_start"}' },
      { event: 'ping', data: '{"type":"ping"}' },
    ]);
  });

  test('a multi-byte character split between two network chunks arrives whole', async () => {
    const whole = bytes('data: {"text":"Grüße 😀"}\n\n');
    const cut = whole.indexOf(0xf0) + 2; // inside the 4-byte emoji
    const events = await read([whole.slice(0, cut), whole.slice(cut)]);
    expect(events).toEqual([{ data: '{"text":"Grüße 😀"}' }]);
  });

  test('a last event without its blank line (Gemini closes the connection) is not lost', async () => {
    const events = await read([bytes('data: {"a":1}\n\ndata: {"last":true}')]);
    expect(events).toEqual([{ data: '{"a":1}' }, { data: '{"last":true}' }]);
  });

  test('events read before the body broke are delivered, then the break', async () => {
    const body = new PassThrough();
    const source = sseSource(body);
    body.write('data: {"a":1}\n\n');
    expect(await source.next()).toEqual([{ data: '{"a":1}' }]);
    const pending = source.next();
    body.write('data: {"a":2}\n\ndata: {"cut');
    expect(await pending).toEqual([{ data: '{"a":2}' }]);
    body.destroy();
    await expect(source.next()).rejects.toBeInstanceOf(ClosedEarlyError);
  });

  test('the body is paused while a batch waits unread, and resumed by the next read', async () => {
    const body = new PassThrough();
    const source = sseSource(body);
    body.write('data: 1\n\n');
    await new Promise((r) => setImmediate(r));
    expect(body.isPaused()).toBe(true);
    expect(await source.next()).toEqual([{ data: '1' }]);
    expect(body.isPaused()).toBe(false);
    body.end('data: 2\n\n');
    expect(await source.next()).toEqual([{ data: '2' }]);
    expect(await source.next()).toBeUndefined();
  });

  test('events already buffered when the source starts are ready at once, in order, then the rest', async () => {
    const body = new PassThrough();
    body.write('data: 1\n\n');
    body.write('data: 2\n\ndata: 3\n\n');
    const source = sseSource(body);
    let first: SseEvent[] | undefined;
    void source.next().then((batch) => (first = batch));
    await Promise.resolve(); // a microtask, not the stream's ticks
    expect(first).toEqual([{ data: '1' }]);
    expect(await source.next()).toEqual([{ data: '2' }, { data: '3' }]);
    const pending = source.next();
    body.end('data: 4\n\n');
    expect(await pending).toEqual([{ data: '4' }]);
    expect(await source.next()).toBeUndefined();
  });

  test('a whole body buffered before the source starts ends after its last event', async () => {
    const body = new PassThrough();
    body.end('data: only\n\n');
    await new Promise((r) => setImmediate(r));
    const source = sseSource(body);
    expect(await source.next()).toEqual([{ data: 'only' }]);
    expect(await source.next()).toBeUndefined();
  });
});
