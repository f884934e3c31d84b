// Bodies on the request path (a client's request, an upstream's answer or event stream): listened to
// until they end or break (listenToBody), or read whole as UTF-8 text (readUtf8). Plain listeners
// rather than `for await`: a stream's async iterator costs a promise and several closures per chunk.
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

export interface BodyListener {
  data(chunk: Buffer): void;
  end(): void;
  /** The stream failed: an 'error', or a 'close' before its end (ClosedEarlyError). Called at most once. */
  fail(err: Error): void;
}

/**
 * Listens to a body until it ends or fails, then stops listening by itself; `detach()` stops earlier.
 * The one place that knows which events end a Node stream and that a close before 'end' is a cut.
 */
export function listenToBody(stream: Readable, listener: BodyListener): () => void {
  const onData = (chunk: Buffer) => listener.data(chunk);
  const onEnd = () => {
    detach();
    listener.end();
  };
  const onError = (err: Error) => {
    detach();
    listener.fail(err);
  };
  const onClose = () => {
    if (!stream.readableEnded) onError(new ClosedEarlyError());
  };
  const detach = () => {
    stream.off('data', onData);
    stream.off('end', onEnd);
    stream.off('error', onError);
    stream.off('close', onClose);
  };
  stream.on('data', onData);
  stream.on('end', onEnd);
  stream.on('error', onError);
  stream.on('close', onClose);
  return detach;
}

/** What readUtf8 does past its limit when the default (drain, TooLargeError) does not fit the caller. */
export interface OverLimit {
  /** Destroy the stream (an upstream's answer: nothing more is wanted from it) rather than drain it. */
  destroy: boolean;
  /** The error to reject with. */
  error(limitBytes: number): Error;
}

const DRAIN: OverLimit = { destroy: false, error: (limitBytes) => new TooLargeError(limitBytes) };

const utf8Of = (chunks: Buffer[]): string => (chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8'));

/**
 * Rejects past `limitBytes`: by default with TooLargeError, the rest left to drain (a client's
 * request: the 413 is still sent on its connection); `overLimit` can cut the stream instead.
 * ClosedEarlyError if cut.
 */
export function readUtf8(stream: Readable, limitBytes = Infinity, overLimit: OverLimit = DRAIN): Promise<string> {
  const whole = bufferedWhole(stream, limitBytes);
  if (whole !== undefined) return Promise.resolve(whole);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const detach = listenToBody(stream, {
      data(chunk) {
        size += chunk.length;
        if (size > limitBytes) {
          detach();
          chunks.length = 0;
          if (overLimit.destroy) stream.destroy();
          else stream.resume(); // keep reading (and dropping) until the answer is sent and the connection closes
          reject(overLimit.error(limitBytes));
          return;
        }
        chunks.push(chunk);
      },
      end: () => resolve(utf8Of(chunks)),
      fail: reject,
    });
  });
}

/**
 * The whole body as text when all of it already sits in the stream's buffer, read at once: a small
 * HTTP body comes in the same packet as its head, and reading it through the stream's events
 * (resume, 'data', 'end', each a tick) cost ~15 us per message, twice per proxied request. All of it
 * is there when the parser has seen the message's end (`complete`), or when the buffered bytes reach
 * the Content-Length the message declared. Otherwise undefined: the caller listens as usual.
 */
function bufferedWhole(stream: Readable, limitBytes: number): Promise<string> | undefined {
  if (stream.readableFlowing === true || stream.destroyed) return undefined;
  const message = stream as Readable & { complete?: boolean; headers?: Record<string, string | string[] | undefined> };
  const buffered = stream.readableLength;
  if (buffered > limitBytes) return undefined;
  const complete = message.complete === true;
  // A Content-Length counts only without Transfer-Encoding, which overrides it (RFC 9112 6.3).
  const declared = message.headers?.['transfer-encoding'] === undefined ? message.headers?.['content-length'] : undefined;
  if (!complete && !(typeof declared === 'string' && buffered > 0 && Number(declared) === buffered)) return undefined;
  // read() without a size: all that is buffered, and on an ended stream it also brings its 'end'.
  const chunk = buffered === 0 && !complete ? null : (stream.read() as Buffer | string | null);
  if (buffered > 0 && chunk === null) return undefined;
  const text = chunk === null ? '' : typeof chunk === 'string' ? chunk : chunk.toString('utf8');
  // An ended stream emits its 'end' a tick after this read; a message still being parsed needs to
  // flow to reach it. An upstream's connection goes back to its agent's pool on that 'end': after
  // the caller has written its answer, which is where that bookkeeping (~15 us) belongs.
  if (!complete) stream.resume();
  return Promise.resolve(text);
}

/**
 * The first `limitBytes` bytes of a body as UTF-8 text (all of it when shorter), never an error for
 * its size: a longer body is cut (destroyed) at the limit instead of being read to its end, so an
 * endless or huge body costs neither memory nor time. ClosedEarlyError if the other side cuts it.
 */
export function readUtf8Head(stream: Readable, limitBytes: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const detach = listenToBody(stream, {
      data(chunk) {
        if (chunk.length <= limitBytes - size) {
          size += chunk.length;
          chunks.push(chunk);
          return;
        }
        chunks.push(chunk.subarray(0, limitBytes - size));
        detach();
        stream.destroy();
        resolve(utf8Of(chunks));
      },
      end: () => resolve(utf8Of(chunks)),
      fail: reject,
    });
  });
}
