// POST /v1/<anything else> with a JSON body (moderations, audio/speech, images, responses...):
// routed by its `model` like chat, then forwarded untouched with http-proxy to a backend of the route
// that speaks that endpoint natively (OpenAI's own API shape), with the backend's model and key. No
// translation, and no retry of anything the upstream may have processed (the endpoint may not be
// idempotent): the next native backend is tried only when the request never reached the last one or
// was refused unprocessed (429, 503), and never for a request that names state stored with one
// account (see routing/undelivered.ts). The upstream's answer, streamed or not, is piped back as is.
// Hosts come only from the config, as everywhere.
import type { ClientRequest, IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import type Server from 'http-proxy';
import type { RuntimeBackend } from '../runtime/runtime.ts';
import { targetOf } from '../runtime/runtime.ts';
import type { AttemptOutcome, AttemptTelemetry } from '../telemetry/hooks.ts';
import { enforceZeroRetention } from '../policy/retention.ts';
import { upstreamRequestIdOf } from '../upstream/request-id.ts';
import { DEFAULT_CONNECT_TIMEOUT_MS, DEFAULT_TOTAL_TIMEOUT_MS } from '../routing/attempt.ts';
import { requestDeadlineMs } from '../routing/dispatch.ts';
import { attemptOrder } from '../routing/order.ts';
import { neverDelivered, refusedUnprocessed, storedStateReference } from '../routing/undelivered.ts';
import { retryAfterMs } from '../providers/openai-errors.ts';
import { armConnectTimeout } from '../upstream/pools.ts';
import { readJsonBody } from './body.ts';
import { relayResponse, type RelayFailure } from './relay-response.ts';
import { refusedAsOverloaded, type HandlerContext } from './chat.ts';
import { modelNotFound, ProxyError, sendError } from './errors.ts';
import { requestIdFrom } from './request-id.ts';

/** Client headers that go upstream; everything else (the app's placeholder key, cookies) stays here. */
const FORWARDED_HEADERS = ['accept', 'accept-encoding', 'user-agent', 'openai-beta', 'x-request-id'];

/** Endpoint paths under /v1/: lower-case segments, no dot segments, nothing that could change the host. */
const ENDPOINT_PATH = /^[a-z0-9_-]+(\/[a-z0-9_-]+)*$/;

interface Forward {
  /** The key it was sent with, to remove from an error answer that echoes it. */
  apiKey: string | undefined;
  backendName: string;
  /** The backend's connect timeout, applied when the request's socket connects. */
  connectMs: number;
  /** The backend's idle timeout for the answer, when set explicitly. */
  idleMs: number | undefined;
  /** The upstream request, once http-proxy has made it (destroyed when the client leaves or time is up). */
  upstreamRequest?: ClientRequest;
  /** Why the answer did not reach the client whole (a body that broke off or went silent, a redirect). */
  failure?: RelayFailure;
  /** The provider's id of its answer, for the log line. */
  upstreamRequestId?: string;
  /**
   * No longer the live attempt: it failed over, timed out or its client left. Its upstream request is
   * cut as soon as it exists (it may still be waiting for a pooled connection), and nothing it answers
   * or fails with reaches the client any more.
   */
  cancelled: boolean;
  /** Its connection came up (a reused one, or a new one that connected). */
  connected: boolean;
  /** Whether another backend takes the request now that this one refused it unprocessed (spends the retry budget when it does). */
  claimFailover(): boolean;
  /** Told what became of the attempt (the first telling counts): its answer is being relayed, or another backend may take it. */
  settle(outcome: AttemptEnd): void;
}

/** web() options, with the attempt they belong to. */
type AttemptOptions = Server.ServerOptions & { llmrouteAttempt: Forward };

/** How one forwarding attempt ended: relayed (whatever happens to the answer after), or passed on. */
type AttemptEnd = { kind: 'relayed' } | { kind: 'failed_over'; reason: string; status: number; retryAfterMs?: number | undefined };

export function passthroughHandler(ctx: HandlerContext) {
  /** The attempt each upstream request belongs to: a late answer of an earlier attempt must not be taken for the live one's. */
  const attemptOf = new WeakMap<ClientRequest, Forward>();
  // http-proxy loads on the first forwarded request: it requires node:https (OpenSSL's TLS stack, ~9 MB
  // resident) at import, which a sidecar whose apps only chat with plain-HTTP backends never needs.
  let proxyServer: Promise<Server> | undefined;
  const proxyOnce = () => (proxyServer ??= import('http-proxy').then(({ default: httpProxy }) => {
    const proxy = httpProxy.createProxyServer({ xfwd: false, changeOrigin: true, ignorePath: true, followRedirects: false, selfHandleResponse: true });
    // http-proxy hands proxyReq the options of its web() call, which carry the attempt (not under
    // `forward`: that is http-proxy's own option, a second upstream to copy the request to).
    proxy.on('proxyReq', (proxyReq: ClientRequest, _req: IncomingMessage, _res: ServerResponse, options: Server.ServerOptions) => {
      const forward = (options as AttemptOptions).llmrouteAttempt;
      attemptOf.set(proxyReq, forward);
      forward.upstreamRequest = proxyReq;
      if (forward.cancelled) return void proxyReq.destroy(); // it waited for a pooled connection past its end
      if (proxyReq.socket && !proxyReq.socket.connecting) forward.connected = true;
      else proxyReq.socket?.once('connect', () => (forward.connected = true));
      // http-proxy emits proxyReq from the request's 'socket' event: the socket is there.
      armConnectTimeout(proxyReq, forward.connectMs);
    });
    proxy.on('proxyRes', (proxyRes: IncomingMessage & { req?: ClientRequest }, _req: IncomingMessage, res: ServerResponse) => {
      const forward = proxyRes.req ? attemptOf.get(proxyRes.req) : undefined;
      if (!forward || forward.cancelled || res.headersSent || res.destroyed) return void proxyRes.destroy();
      forward.upstreamRequestId = upstreamRequestIdOf(proxyRes.headers);
      const status = proxyRes.statusCode ?? 502;
      if (refusedUnprocessed(status, proxyRes.headers) && forward.claimFailover()) {
        forward.cancelled = true; // whatever else it does (a reset while draining) is no one's business now
        proxyRes.on('error', () => undefined);
        proxyRes.resume(); // read and dropped: the keep-alive connection stays usable
        return forward.settle({ kind: 'failed_over', reason: `HTTP ${status}`, status, retryAfterMs: retryAfterMs(proxyRes.headers) });
      }
      forward.settle({ kind: 'relayed' });
      relayResponse(proxyRes, res, forward.apiKey, forward.backendName, forward.idleMs, (failure) => (forward.failure = failure));
    });
    return proxy;
  }));

  return async (req: IncomingMessage & { path?: string }, res: ServerResponse): Promise<void> => {
    // The express app's first middleware has already chosen it (a generated one must not change here).
    const requestId = (res.getHeader('x-request-id') as string | undefined) ?? requestIdFrom(req.headers['x-request-id']);
    res.setHeader('x-request-id', requestId);
    const telemetry = ctx.telemetry.startRequest({ requestId, operation: 'passthrough', httpRoute: '/v1/*', headers: req.headers });
    let attempt: AttemptTelemetry | undefined;
    let attempts = 0;
    let errorCode: string | undefined;
    if (refusedAsOverloaded(ctx, res, telemetry)) return;
    const finished = new Promise<void>((resolve) => res.on('close', resolve));
    // Counted for a graceful shutdown; cut at its deadline (an opaque forwarded body has no error event to end with).
    const tracked = new AbortController();
    tracked.signal.addEventListener('abort', () => res.destroy(), { once: true });
    ctx.inFlight?.add(tracked);
    try {
      const runtime = ctx.runtime();
      if (!runtime) throw new ProxyError(503, 'config_not_loaded', 'the proxy has no valid configuration yet');
      const path = (req.path ?? '').replace(/^\/v1\//, '');
      if (req.method !== 'POST' || !ENDPOINT_PATH.test(path)) throw new ProxyError(404, 'unknown_url', `no route for ${req.method} ${(req.path ?? '').slice(0, 200)}`);
      if (!String(req.headers['content-type'] ?? '').startsWith('application/json')) {
        throw new ProxyError(415, 'unsupported_media_type', `only JSON requests are forwarded (they are routed by their "model"); POST /v1/${path} sent ${String(req.headers['content-type'] ?? 'no content-type').slice(0, 100)}`);
      }
      const body = await readJsonBody(req, runtime.config.server.maxBodyBytes);
      if (runtime.config.policy.requireZeroDataRetention && typeof body === 'object' && body !== null && !Array.isArray(body)) {
        const decision = enforceZeroRetention(path, body as Record<string, unknown>);
        if (!decision.allowed) throw new ProxyError(403, 'denied_by_policy', decision.message, { type: 'permission_error', param: decision.param });
      }
      if (typeof body !== 'object' || body === null || Array.isArray(body) || typeof (body as { model?: unknown }).model !== 'string') {
        throw new ProxyError(400, 'invalid_request', 'model is required and must be a string', { param: 'model' });
      }
      const model = (body as { model: string }).model;
      const route = runtime.routeFor(model);
      if (!route) throw modelNotFound(model, runtime.models);
      telemetry.routeResolved({ route: route.config.name, clientModel: model, stream: false, logPrompts: runtime.config.policy.logPrompts, deniedBackends: route.deniedNames });
      const candidates = nativeBackends(route.allowed, route.config.name, path);
      // Taken before the loop: each attempt replaces req.headers with what goes upstream.
      const forwardedHeaders = Object.fromEntries(FORWARDED_HEADERS.filter((h) => req.headers[h] !== undefined).map((h) => [h, req.headers[h]]));
      // Another backend may take it only when it names no state stored with the first one's account.
      const boundToBackend = storedStateReference(body) !== undefined;
      const order = pickOrder(attemptOrder(route.config.strategy, candidates, ctx.deps.random), ctx);
      const proxy = await proxyOnce();
      const deadline = Date.now() + requestDeadlineMs(route);
      ctx.deps.budget.deposit();
      /** The upstream call under way, cut when the client leaves. */
      let current: Forward | undefined;
      res.on('close', () => {
        if (res.writableFinished || !current) return;
        current.cancelled = true; // the client left: cut the upstream call, even one still waiting for a connection
        current.upstreamRequest?.destroy();
      });
      for (let index = 0; index < order.length; index++) {
        const backend = order[index]!;
        if (res.destroyed) throw new ProxyError(499, 'client_closed_request', 'the client closed the connection');
        const last = index === order.length - 1 || boundToBackend;
        const backendTarget = targetOf(backend);
        const upstream = backend.adapter.buildNativeRequest!(path, body as Record<string, unknown>, backendTarget);
        // Settled once: a promise keeps its first outcome, whichever of the handlers below comes first.
        let settle!: (outcome: AttemptEnd) => void;
        const settled = new Promise<AttemptEnd>((resolve) => (settle = resolve));
        const forward: Forward = {
          apiKey: backendTarget.apiKey,
          backendName: backend.config.name,
          connectMs: backend.config.timeouts.connectMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
          // Only an explicit one: a forwarded stream is opaque, and /v1/responses sends response.created at
          // once and may then be silent for minutes while a reasoning model thinks (the total still bounds it).
          idleMs: backend.config.timeouts.idleMs,
          cancelled: false,
          connected: false,
          // Out of backends, budget or time, the refusal is the answer, relayed as it came.
          claimFailover: () => !last && Date.now() < deadline && ctx.deps.budget.trySpend(),
          settle: (outcome) => settle(outcome),
        };
        current = forward;
        const target = new URL(upstream.url + new URL(req.url ?? '', 'http://client').search);
        attempts = index + 1;
        attempt = telemetry.startAttempt({ backend: backend.config, providerName: backend.telemetryName, serverAddress: backend.host, serverPort: backend.port, attempt: attempts, reason: index === 0 ? 'initial' : 'failover' });
        const payload = Buffer.from(upstream.body ?? '', 'utf8');
        req.headers = {
          ...forwardedHeaders,
          ...upstream.headers,
          ...attempt.upstreamHeaders,
          'content-length': String(payload.length),
        };
        res.setHeader('x-llmroute-backend', backend.config.name);
        res.setHeader('x-llmroute-attempts', String(attempts));
        // The backend's total timeout bounds the whole exchange, answer included (http-proxy's own
        // proxyTimeout is a socket idle timeout: an upstream trickling bytes would never be cut by it).
        const totalMs = Math.max(1, Math.min(backend.config.timeouts.totalMs ?? DEFAULT_TOTAL_TIMEOUT_MS, deadline - Date.now()));
        const totalTimer = setTimeout(() => {
          errorCode = 'upstream_timeout';
          forward.settle({ kind: 'relayed' });
          forward.cancelled = true;
          forward.upstreamRequest?.destroy();
          if (!res.headersSent) sendError(res, 504, { error: { message: `backend ${backend.config.name} timed out (total)`, type: 'upstream_error', param: null, code: 'upstream_timeout' } });
          else res.destroy();
        }, totalMs);
        const options: AttemptOptions = { target: target.href, buffer: Readable.from([payload]), agent: ctx.deps.pools.agentFor(target), proxyTimeout: totalMs, llmrouteAttempt: forward };
        proxy.web(req, res, options, (err: Error) => {
          if (forward.cancelled || errorCode === 'upstream_timeout') return; // an attempt that is over: its errors change nothing
          const code = (err as { code?: string }).code ?? 'connect_error';
          if (!res.headersSent && neverDelivered(code, forward.connected) && forward.claimFailover()) {
            forward.cancelled = true;
            return forward.settle({ kind: 'failed_over', reason: code, status: 0 });
          }
          forward.settle({ kind: 'relayed' });
          errorCode = 'upstream_unreachable';
          if (!res.headersSent) {
            sendError(res, 502, { error: { message: `backend ${backend.config.name} could not be reached (${code})`, type: 'upstream_error', param: null, code: 'upstream_unreachable' } });
          } else res.destroy();
        });
        const outcome = await Promise.race([settled, finished.then((): AttemptEnd => ({ kind: 'relayed' }))]);
        const breaker = ctx.deps.breakers.for(backend.id);
        if (outcome.kind === 'failed_over') {
          clearTimeout(totalTimer);
          breaker.recordFailure();
          if (outcome.retryAfterMs !== undefined) breaker.busyFor(outcome.retryAfterMs);
          attempt.end({ outcome: outcome.status === 0 ? 'connect_error' : 'http_error', status: outcome.status, errorType: outcome.reason });
          attempt = undefined;
          continue;
        }
        await finished;
        clearTimeout(totalTimer);
        errorCode ??= forward.failure;
        if (!errorCode && res.statusCode < 300) breaker.recordSuccess();
        else if (errorCode === 'upstream_unreachable' || errorCode === 'upstream_timeout' || res.statusCode >= 500 || res.statusCode === 429) breaker.recordFailure();
        const upstreamId = forward.upstreamRequestId !== undefined ? { upstreamRequestId: forward.upstreamRequestId } : {};
        attempt.end(res.writableFinished && !errorCode ? { outcome: 'success', status: res.statusCode, ...upstreamId } : { outcome: attemptOutcome(errorCode), status: res.statusCode, errorType: errorCode ?? 'client_closed', ...upstreamId });
        return;
      }
    } catch (err) {
      const error = err instanceof ProxyError ? err : new ProxyError(500, 'internal_error', 'the proxy failed to handle the request');
      errorCode = error.code;
      sendError(res, error.status, error.toBody(), undefined, error.retryAdvised);
    } finally {
      ctx.inFlight?.delete(tracked); // first: a throw from telemetry must not hold a slot for good
      telemetry.end({ status: res.writableFinished || res.headersSent ? res.statusCode : 499, attempts, ...(errorCode ? { errorCode } : {}) });
    }
  };
}

function attemptOutcome(errorCode: string | undefined): AttemptOutcome {
  if (errorCode === undefined) return 'aborted';
  if (errorCode === 'upstream_timeout') return 'timeout';
  if (errorCode === 'upstream_stream_error') return 'stream_error';
  if (errorCode === 'upstream_redirect') return 'http_error';
  return 'connect_error';
}

/** The allowed backends (config order) whose providers serve OpenAI's endpoints natively. */
function nativeBackends(allowed: readonly RuntimeBackend[], route: string, path: string): RuntimeBackend[] {
  if (allowed.length === 0) throw new ProxyError(403, 'denied_by_policy', `no backend of route ${route} is allowed by the namespace policy`, { type: 'permission_error' });
  const native = allowed.filter((b) => b.adapter.buildNativeRequest !== undefined && (b.adapter.servesNativeEndpoints?.(b.options) ?? true));
  if (native.length === 0) {
    const providers = [...new Set(allowed.map((b) => b.config.provider))].join(', ');
    const azureHint = allowed.some((b) => b.config.provider === 'azure-openai') ? ' (azure-openai does with options.apiVersion v1)' : '';
    throw new ProxyError(400, 'unsupported_operation', `/v1/${path} is forwarded only to providers that serve OpenAI's API natively${azureHint}; route ${route} has ${providers}`);
  }
  return native;
}

/** Backends neither ejected nor busy first (in strategy order), then the others: as chat picks them. */
function pickOrder(order: RuntimeBackend[], ctx: HandlerContext): RuntimeBackend[] {
  const now = Date.now();
  const available = order.filter((b) => ctx.deps.breakers.for(b.id).isAvailable(now));
  return [...available, ...order.filter((b) => !available.includes(b))];
}
