// Server-sent events from an upstream response body, batch by batch as network chunks arrive.
// TextDecoder in streaming mode keeps UTF-8 characters split across chunks intact; eventsource-parser
// accepts \n, \r and \r\n line endings and skips comments (DeepSeek's `: keep-alive`).
//
// Read with listeners, not `for await` over the stream: a Readable's async iterator sets up
// end-of-stream tracking and a promise chain per stream, which cost the streaming path more than
// parsing the events did. Backpressure is kept: the body is paused while a batch waits unread.
import type { Readable } from 'node:stream';
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import type { SseEvent } from '../providers/adapter.ts';
import { listenToBody } from '../io/read-utf8.ts';

/** Pull side of an event stream: the next batch (never empty), or undefined at the end. Rejects when the body breaks (ClosedEarlyError when cut). */
export interface SseSource {
  next(): Promise<SseEvent[] | undefined>;
}

export function sseSource(body: Readable): SseSource {
  const decoder = new TextDecoder('utf-8');
  let parsed: SseEvent[] = [];
  const parser = createParser({
    onEvent(message: EventSourceMessage) {
      parsed.push(message.event ? { event: message.event, data: message.data } : { data: message.data });
    },
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
  listenToBody(body, {
    data(chunk) {
      parser.feed(decoder.decode(chunk, { stream: true }));
      take();
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

  return {
    next() {
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
