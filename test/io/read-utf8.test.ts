// readUtf8 takes a body that already arrived whole at once, and waits for the rest otherwise: the
// shortcut must never cut a body short.
import { describe, expect, test } from '@jest/globals';
import { PassThrough } from 'node:stream';
import { readUtf8 } from '#proxy/io/read-utf8.ts';

/** A stream shaped like an IncomingMessage: headers, and `complete` once the parser saw its end. */
function message(headers: Record<string, string>): PassThrough & { headers: Record<string, string>; complete: boolean } {
  return Object.assign(new PassThrough(), { headers, complete: false });
}

describe('readUtf8', () => {
  test('a body whose buffered bytes reach its Content-Length is read without waiting for its end', async () => {
    const body = message({ 'content-length': '11' });
    body.write('{"a":"bcd"}');
    await new Promise(setImmediate);
    let text: string | undefined;
    void readUtf8(body).then((t) => (text = t));
    await Promise.resolve();
    await Promise.resolve();
    expect(text).toBe('{"a":"bcd"}');
  });

  test('with Transfer-Encoding the Content-Length is not trusted: the rest of the body is waited for', async () => {
    const body = message({ 'content-length': '5', 'transfer-encoding': 'chunked' });
    body.write('hello');
    await new Promise(setImmediate);
    const reading = readUtf8(body);
    body.end(' world');
    expect(await reading).toBe('hello world');
  });

  test('a body shorter than its Content-Length so far is read to its end, multi-byte characters intact', async () => {
    const whole = Buffer.from('{"text":"Grüße 😀"}');
    const body = message({ 'content-length': String(whole.length) });
    body.write(whole.subarray(0, 13));
    await new Promise(setImmediate);
    const reading = readUtf8(body);
    body.end(whole.subarray(13));
    expect(await reading).toBe('{"text":"Grüße 😀"}');
  });

  test('a complete message is read whole and the stream still ends', async () => {
    const body = message({});
    body.end('done');
    await new Promise(setImmediate);
    body.complete = true;
    const ended = new Promise((resolve) => body.once('end', resolve));
    expect(await readUtf8(body)).toBe('done');
    await ended;
  });
});
