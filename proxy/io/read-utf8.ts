// Reads a whole byte stream (a client's request body, an upstream's answer) as UTF-8 text.
// Plain 'data'/'end' listeners rather than `for await`: a stream's async iterator costs a promise
// and several closures per chunk, and both callers are on the request path.
import type { Readable } from 'node:stream';

export class TooLargeError extends Error {
  readonly limitBytes: number;
  constructor(limitBytes: number) {
    super(`body larger than ${limitBytes} bytes`);
    this.limitBytes = limitBytes;
  }
}

export class ClosedEarlyError extends Error {
  constructor() {
    super('the stream closed before its end');
  }
}

/** Rejects with TooLargeError past `limitBytes` (the rest is left to drain), ClosedEarlyError if cut. */
export function readUtf8(stream: Readable, limitBytes = Infinity): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const fail = (err: Error) => {
      cleanup();
      reject(err);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limitBytes) {
        fail(new TooLargeError(limitBytes));
        stream.resume(); // keep reading (and dropping) until the answer is sent and the connection closes
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8'));
    };
    const onClose = () => {
      if (!stream.readableEnded) fail(new ClosedEarlyError());
    };
    const cleanup = () => {
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('error', fail);
      stream.off('close', onClose);
    };
    stream.on('data', onData);
    stream.on('end', onEnd);
    stream.on('error', fail);
    stream.on('close', onClose);
  });
}
