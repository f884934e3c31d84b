// Keep-alive connection pools per upstream origin, on node:http(s) Agents. Node's client parses
// HTTP natively (llhttp in C++); undici's Pool ran the same parser in WebAssembly, which cost the
// sidecar about 6 MB of resident memory for no CPU gain in our measurements.
// Redirects are never followed (node's client does not follow them; a 3xx is an upstream error).
import type { Agent as HttpAgent, ClientRequest, IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import { readUtf8, readUtf8Head, type OverLimit } from '../io/read-utf8.ts';
import { nodeHttp, nodeHttps } from '../io/builtins.ts';

export interface UpstreamCall {
  method: string;
  /** Absolute http(s) URL, as the adapter built it from the config. */
  url: string;
  headers: OutgoingHttpHeaders;
  body?: string | undefined;
  /** Aborting it destroys the request, or the response body while it is being read. */
  signal: AbortSignal;
  connectTimeoutMs: number;
}

/** The upstream's status and headers; `body` is the byte stream (read it, or the socket stays busy). */
export type UpstreamResponse = IncomingMessage;

const MAX_SOCKETS_PER_ORIGIN = 128;
/** Parsed upstream URLs kept: they come from the config (a few per backend), so this only bounds a surprise. */
const MAX_CACHED_TARGETS = 1000;

/** What node:http needs of an upstream URL, parsed once per URL rather than once per request. */
interface Target {
  agent: HttpAgent;
  https: boolean;
  hostname: string;
  port: string;
  path: string;
  auth?: string;
}
/** An idle pooled connection is closed after this long (providers close theirs after 5-120 s). */
const IDLE_SOCKET_MS = 30_000;

export class ConnectTimeoutError extends Error {
  readonly code = 'connect_timeout';
  constructor() {
    super('connect timeout');
  }
}

export class Pools {
  private readonly agents = new Map<string, HttpAgent>();
  private readonly targets = new Map<string, Target>();

  /** The pooled agent of an origin (`http:` or `https:`), created on first use. */
  agentFor(url: URL): HttpAgent {
    const key = url.origin;
    let agent = this.agents.get(key);
    if (!agent) {
      const options = { keepAlive: true, maxSockets: MAX_SOCKETS_PER_ORIGIN, timeout: IDLE_SOCKET_MS, scheduling: 'lifo' as const };
      // node:https (and TLS) is loaded only when some backend needs it: most sidecars in a test
      // cluster talk to a local model server over plain HTTP.
      agent = url.protocol === 'https:' ? new (nodeHttps().Agent)(options) : new (nodeHttp().Agent)(options);
      this.agents.set(key, agent);
    }
    return agent;
  }

  /**
   * Sends one request and resolves with the response head. A pooled connection the upstream closed
   * while idle fails before any response (ECONNRESET on a reused socket): that send is repeated once
   * on a fresh connection, as nothing reached the upstream's application.
   */
  async send(call: UpstreamCall): Promise<UpstreamResponse> {
    try {
      return await this.sendOnce(call);
    } catch (err) {
      if (!(err instanceof StaleSocketError) || call.signal.aborted) throw err instanceof StaleSocketError ? err.cause : err;
      return this.sendOnce(call);
    }
  }

  /**
   * Options for http.request instead of a URL object: given a URL, node:http converts it to these on
   * every call (urlToHttpOptions), which was ~15 us of the proxy's CPU per request.
   */
  private targetOf(href: string): Target {
    let target = this.targets.get(href);
    if (!target) {
      const url = new URL(href);
      target = {
        agent: this.agentFor(url),
        https: url.protocol === 'https:',
        hostname: url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname,
        port: url.port,
        path: url.pathname + url.search,
        ...(url.username || url.password ? { auth: `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}` } : {}),
      };
      if (this.targets.size >= MAX_CACHED_TARGETS) this.targets.clear();
      this.targets.set(href, target);
    }
    return target;
  }

  private sendOnce(call: UpstreamCall): Promise<UpstreamResponse> {
    const target = this.targetOf(call.url);
    const send = target.https ? nodeHttps().request : nodeHttp().request;
    return new Promise<UpstreamResponse>((resolve, reject) => {
      if (call.signal.aborted) return reject(new AbortedError());
      let connectTimer: NodeJS.Timeout | undefined;
      let response: IncomingMessage | undefined;
      const req: ClientRequest = send({
        protocol: target.https ? 'https:' : 'http:',
        hostname: target.hostname,
        ...(target.port ? { port: target.port } : {}),
        path: target.path,
        ...(target.auth ? { auth: target.auth } : {}),
        method: call.method,
        headers: call.headers,
        agent: target.agent,
      });
      // Abort by hand rather than with http.request's `signal`: that one also destroys the socket
      // after the response completed, when it is back in the pool (an unhandled error there).
      const onAbort = () => {
        if (!response?.complete) req.destroy(new AbortedError());
      };
      call.signal.addEventListener('abort', onAbort, { once: true });
      req.once('close', () => call.signal.removeEventListener('abort', onAbort));
      req.once('socket', () => (connectTimer = armConnectTimeout(req, call.connectTimeoutMs)));
      req.once('response', (res) => {
        clearTimeout(connectTimer);
        response = res;
        resolve(res);
      });
      // After the response head, a failure (abort, reset) surfaces through the response body stream;
      // the request's own error event is then only an echo of it.
      req.on('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(connectTimer);
        reject(req.reusedSocket && (err.code === 'ECONNRESET' || err.code === 'EPIPE') ? new StaleSocketError(err) : err);
      });
      req.end(call.body);
    });
  }

  async close(): Promise<void> {
    for (const agent of this.agents.values()) agent.destroy();
    this.agents.clear();
    this.targets.clear();
  }
}

/**
 * Cuts a request whose new connection is not up within `ms` (pooled connections are left alone). Over
 * TLS the connection is up once the handshake is done, not at TCP connect: a peer that accepts and
 * never answers the ClientHello is a connect failure too. Call once the request has its socket.
 */
export function armConnectTimeout(req: ClientRequest, ms: number): NodeJS.Timeout | undefined {
  const socket = req.socket;
  if (!socket?.connecting) return undefined;
  const timer = setTimeout(() => req.destroy(new ConnectTimeoutError()), ms);
  const up = () => clearTimeout(timer);
  socket.once('encrypted' in socket ? 'secureConnect' : 'connect', up);
  socket.once('close', up);
  return timer;
}

class AbortedError extends Error {
  readonly code = 'aborted';
  constructor() {
    super('upstream request aborted');
  }
}

class StaleSocketError extends Error {
  override readonly cause: Error;
  constructor(cause: Error) {
    super('pooled connection closed by the upstream');
    this.cause = cause;
  }
}

/**
 * An error answer is read up to this many bytes, the rest dropped: enough to classify it (provider
 * error bodies are a few hundred bytes), and a huge or endless one is answered at once.
 */
export const MAX_ERROR_BODY_BYTES = 64 * 1024;
/**
 * A whole (non-streamed) 2xx body may be this large. Generous because embeddings answers are big:
 * a full batch (2048 inputs) of 3072-dimension vectors is ~35 MB as base64 (the openai SDK's
 * default encoding), but ~90 MB or more as float JSON, which this cap refuses.
 */
export const MAX_RESPONSE_BODY_BYTES = 64 * 1024 * 1024;

/** An upstream's 2xx body was larger than the limit: the response was destroyed (the client sees 502). */
export class ResponseTooLargeError extends Error {
  readonly code = 'upstream_response_too_large';
  readonly limitBytes: number;
  constructor(limitBytes: number) {
    super(`upstream response body larger than ${limitBytes} bytes`);
    this.limitBytes = limitBytes;
  }
}

const CUT_RESPONSE: OverLimit = { destroy: true, error: (limitBytes) => new ResponseTooLargeError(limitBytes) };

export interface ReadLimits {
  /** Bytes of a 2xx body; past it, ResponseTooLargeError. Default MAX_RESPONSE_BODY_BYTES. */
  bodyBytes?: number;
  /** Bytes kept of a non-2xx body; the rest is dropped. Default MAX_ERROR_BODY_BYTES. */
  errorBodyBytes?: number;
}

/**
 * Reads a response body as UTF-8 text, bounded by its status. A 2xx body is read whole up to
 * `bodyBytes`: past it (or when Content-Length says so) the response is destroyed and the promise
 * rejects with ResponseTooLargeError. Any other status is an error answer: its first
 * `errorBodyBytes` are returned and the rest is cut off, never an error for its size.
 */
export function readText(body: IncomingMessage, limits?: ReadLimits): Promise<string> {
  const status = body.statusCode;
  if (status !== undefined && (status < 200 || status >= 300)) return readUtf8Head(body, limits?.errorBodyBytes ?? MAX_ERROR_BODY_BYTES);
  const limitBytes = limits?.bodyBytes ?? MAX_RESPONSE_BODY_BYTES;
  const declared = body.headers['content-length'];
  if (declared !== undefined && Number(declared) > limitBytes) {
    body.destroy();
    return Promise.reject(new ResponseTooLargeError(limitBytes));
  }
  return readUtf8(body, limitBytes, CUT_RESPONSE);
}
