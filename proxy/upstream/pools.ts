// Keep-alive connection pools per upstream origin, on node:http(s) Agents. Node's client parses
// HTTP natively (llhttp in C++); undici's Pool ran the same parser in WebAssembly, which cost the
// sidecar about 6 MB of resident memory for no CPU gain in our measurements.
// Redirects are never followed (node's client does not follow them; a 3xx is an upstream error).
import type { Agent as HttpAgent, ClientRequest, IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import { readUtf8 } from '../io/read-utf8.ts';
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
      req.once('socket', (socket) => {
        if (!socket.connecting) return;
        connectTimer = setTimeout(() => req.destroy(new ConnectTimeoutError()), call.connectTimeoutMs);
        socket.once('connect', () => clearTimeout(connectTimer));
      });
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

/** Reads a whole response body as UTF-8 text. */
export const readText = (body: IncomingMessage): Promise<string> => readUtf8(body);
