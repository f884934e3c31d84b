// Server-sent events from an upstream response body, batch by batch as network chunks arrive.
// TextDecoder in streaming mode keeps UTF-8 characters split across chunks intact; eventsource-parser
// accepts \n, \r and \r\n line endings and skips comments (DeepSeek's `: keep-alive`).
//
// Read with listeners, not `for await` over the stream: a Readable's async iterator sets up
// end-of-stream tracking and a promise chain per stream, which cost the streaming path more than
// parsing the events did. Backpressure is kept: the body is paused while a batch waits unread.
import type { Readable } from 'node:stream';
import { createParser, type EventSourceMessage, type ParseError } from 'eventsource-parser';
import type { SseEvent } from '../providers/adapter.ts';
import { listenToBody } from '../io/read-utf8.ts';

/** Pull side of an event stream: the next batch (never empty), or undefined at the end. Rejects when the body breaks (ClosedEarlyError when cut). */
export interface SseSource {
  next(): Promise<SseEvent[] | undefined>;
}

/**
 * Characters one event may buffer before it is complete: an unfinished line plus the `data:` lines
 * of an event whose blank line has not arrived. Real events are a few KiB (a large tool call's
 * arguments, a base64 image in a chunk: a few MiB at most).
 */
export const MAX_SSE_EVENT_CHARS = 16 * 1024 * 1024;

/** An upstream event (or a line without its end) outgrew the limit: the upstream response was destroyed. */
export class SseEventTooLargeError extends Error {
  readonly code = 'upstream_event_too_large';
  readonly limitChars: number;
  constructor(limitChars: number) {
    super(`upstream event larger than ${limitChars} characters`);
    this.limitChars = limitChars;
  }
}

/**
 * The parser bounds what it buffers (`maxBufferSize`, checked once per chunk it is fed): past the
 * limit the source fails with SseEventTooLargeError and the body is destroyed, which aborts the
 * upstream response; events complete before the oversized one are still delivered first.
 */
/** `onBytes`: told of every network chunk, events or not (keep-alive comments count as a live upstream). */
export function sseSource(body: Readable, maxEventChars = MAX_SSE_EVENT_CHARS, onBytes?: () => void): SseSource {
  const decoder = new TextDecoder('utf-8');
  let parsed: SseEvent[] = [];
  let overflow = false;
  const parser = createParser({
    onEvent(message: EventSourceMessage) {
      parsed.push(message.event ? { event: message.event, data: message.data } : { data: message.data });
    },
    onError(err: ParseError) {
      if (err.type === 'max-buffer-size-exceeded') overflow = true;
    },
    maxBufferSize: maxEventChars,
  });
  const ready: SseEvent[][] = [];
  let ended = false;
  let failure: Error | undefined;
  let waiting: { resolve(batch: SseEvent[] | undefined): void; reject(err: Error): void } | undefined;

  const settle = () => {
    if (!waiting) return;
    const { resolve, reject } = waiting;
    if (ready.length > 0) {
      waiting = undefined;
      resolve(ready.shift());
    } else if (failure) {
      waiting = undefined;
      reject(failure);
    } else if (ended) {
      waiting = undefined;
      resolve(undefined);
    }
  };
  const take = () => {
    if (parsed.length === 0) return;
    ready.push(parsed);
    parsed = [];
  };
  const detach = listenToBody(body, {
    data(chunk) {
      onBytes?.();
      parser.feed(decoder.decode(chunk, { stream: true }));
      take();
      if (overflow) {
        // The parser has dropped its buffer and refuses more input: stop reading and cut the upstream.
        detach();
        body.destroy();
        failure = new SseEventTooLargeError(maxEventChars);
        settle();
        return;
      }
      if (ready.length > 0 && !waiting) body.pause(); // nobody is reading: stop pulling from the socket
      settle();
    },
    end() {
      // A last event without its blank line (Gemini closes the connection after it) still counts.
      parser.feed(decoder.decode() + '\n\n');
      take();
      ended = true;
      settle();
    },
    fail(err) {
      failure = err;
      settle();
    },
  });

  /**
   * Parses what the body already buffered (read() hands it to the 'data' listener at once): events
   * that came with the response head, or while nobody read, are ready without the stream's resume
   * and flow ticks.
   */
  const pullBuffered = () => {
    while (body.readableLength > 0 && !failure && !body.destroyed && body.read() !== null);
  };
  pullBuffered();

  return {
    next() {
      if (ready.length === 0) pullBuffered();
      if (ready.length > 0) {
        const batch = ready.shift();
        if (ready.length === 0 && !ended && !failure) body.resume();
        return Promise.resolve(batch);
      }
      if (failure) return Promise.reject(failure);
      if (ended) return Promise.resolve(undefined);
      body.resume();
      return new Promise((resolve, reject) => {
        waiting = { resolve, reject };
      });
    },
  };
}

/** A source over events already at hand (a provider answered locally). */
export function sseSourceOf(batches: SseEvent[][]): SseSource {
  const queue = batches.filter((b) => b.length > 0);
  return { next: () => Promise.resolve(queue.shift()) };
}
