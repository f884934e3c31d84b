// Server-sent events from a byte stream, event by event, as they arrive. TextDecoder in streaming
// mode keeps UTF-8 characters split across network chunks intact; eventsource-parser accepts
// \n, \r and \r\n line endings and skips comments (DeepSeek's `: keep-alive`).
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import type { SseEvent } from '../providers/adapter.ts';

export async function* sseEvents(body: AsyncIterable<Uint8Array>): AsyncGenerator<SseEvent[]> {
  const decoder = new TextDecoder('utf-8');
  let batch: SseEvent[] = [];
  const parser = createParser({
    onEvent(message: EventSourceMessage) {
      batch.push(message.event ? { event: message.event, data: message.data } : { data: message.data });
    },
  });
  for await (const chunk of body) {
    parser.feed(decoder.decode(chunk, { stream: true }));
    if (batch.length > 0) {
      const ready = batch;
      batch = [];
      yield ready;
    }
  }
  parser.feed(decoder.decode() + '\n\n');
  if (batch.length > 0) yield batch;
}
