// Plumbing shared by the provider fakes: a loopback HTTP server where each request takes the next
// queued behaviour (or the default), is recorded, and counts as aborted if the client leaves early.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- test inspection
  /** The client's port: the same port on two requests means the connection was reused. */
  remotePort: number;
}

export interface FakeServer<B> {
  url: string;
  requests: RecordedRequest[];
  /** Requests whose client connection closed before the answer finished. */
  aborted: number;
  queue(...behaviors: B[]): void;
  setDefault(behavior: B): void;
  close(): Promise<void>;
}

export type Answer<B> = (req: IncomingMessage, res: ServerResponse, body: any, behavior: B) => Promise<void>; // eslint-disable-line @typescript-eslint/no-explicit-any

/**
 * A fake's deliberate delay (slow headers, slow chunks). Unref'd: a delay still running when its
 * client has gone and the fake has closed must not keep the test process alive (Jest's "did not exit
 * one second after the test run has completed").
 */
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms).unref());

export async function startFakeServer<B>(answer: Answer<B>, defaultBehavior: B): Promise<FakeServer<B>> {
  const queued: B[] = [];
  let fallback = defaultBehavior;
  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    let body: unknown;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      body = text;
    }
    fake.requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body, remotePort: req.socket.remotePort ?? 0 });
    const behavior = queued.shift() ?? fallback;
    let finished = false;
    res.on('close', () => {
      if (!finished) fake.aborted += 1;
    });
    try {
      await answer(req, res, body, behavior);
      finished = true;
    } catch {
      /* the connection went away */
    }
  });
  const fake: FakeServer<B> = {
    url: '',
    requests: [],
    aborted: 0,
    queue: (...b) => queued.push(...b),
    setDefault: (b) => {
      fallback = b;
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  fake.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return fake;
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)), ...headers });
  res.end(text);
}

export interface FrameOptions {
  delayBetweenMs?: number | undefined;
  /** Split each frame's bytes inside its first multi-byte character (or in the middle). */
  splitUtf8?: boolean | undefined;
}

/** Writes one SSE frame, honouring the pacing and splitting knobs. Throws once the client is gone. */
export async function writeFrame(res: ServerResponse, frame: string, options: FrameOptions): Promise<void> {
  if (res.destroyed) throw new Error('closed');
  const bytes = Buffer.from(frame, 'utf8');
  if (options.splitUtf8) {
    let cut = Math.floor(bytes.length / 2);
    for (let i = 0; i < bytes.length - 1; i++) {
      if (bytes[i]! >= 0xc0) {
        cut = i + 1;
        break;
      }
    }
    res.write(bytes.subarray(0, cut));
    await sleep(5);
    res.write(bytes.subarray(cut));
  } else res.write(bytes);
  if (options.delayBetweenMs) await sleep(options.delayBetweenMs);
}
