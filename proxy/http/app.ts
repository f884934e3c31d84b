// The LLM port's request listener and the admin port's. The LLM API's two hot endpoints are served
// straight from node:http; every other request on the LLM port (GET /v1/models, pass-through /v1/*,
// variants of the hot paths express accepts: trailing slash, other case; 404s) goes through an express
// app, loaded with the first such request. The admin port (probes, metrics) needs no router.
// Why: express re-prototypes `req`/`res` on every request (80-150 us of CPU per call in our
// measurements), and loading it costs a sidecar that only relays completions ~2 MB resident.
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { Express, NextFunction, Request, Response } from 'express';
import { modelNotFound, ProxyError, sendError } from './errors.ts';
import { llmHandler, type HandlerContext } from './chat.ts';
import { passthroughHandler } from './passthrough.ts';
import { requestIdFrom } from './request-id.ts';
import type { ConfigStore } from '../runtime/config-store.ts';

/** A served model name as OpenAI's model object (no creation time to tell: 0). */
const modelObject = (id: string) => ({ id, object: 'model', created: 0, owned_by: 'llmroute' });

export async function buildLlmApp(ctx: HandlerContext): Promise<Express> {
  const { default: express } = await import('express');
  const app = express();
  app.set('env', 'production'); // NODE_ENV is the application's business: never stack traces in answers
  app.disable('x-powered-by');
  app.disable('etag');
  // Every answer carries an x-request-id (the handlers below that log one set their own).
  app.use((req, res, next) => {
    res.setHeader('x-request-id', requestIdFrom(req.headers['x-request-id']));
    next();
  });
  app.post('/v1/chat/completions', llmHandler('chat', ctx));
  app.post('/v1/embeddings', llmHandler('embeddings', ctx));
  app.get('/v1/models', (_req, res) => {
    res.json({ object: 'list', data: (ctx.runtime()?.models ?? []).map(modelObject) });
  });
  // models.retrieve: served models only (some frameworks check a model exists before using it).
  app.get('/v1/models/:model', (req, res) => {
    const runtime = ctx.runtime();
    const model = req.params.model;
    if (!runtime?.routeFor(model)) {
      const error = modelNotFound(model, runtime?.models ?? []);
      return sendError(res, error.status, error.toBody());
    }
    res.json(modelObject(model));
  });
  app.post('/v1/{*endpoint}', passthroughHandler(ctx));
  app.use((req, res) => {
    const error = new ProxyError(404, 'unknown_url', `no route for ${req.method} ${req.path.slice(0, 200)}`);
    sendError(res, 404, error.toBody());
  });
  // Whatever express itself refuses (a path whose percent-escapes do not decode) gets an OpenAI error
  // body too, never express's HTML page with a stack trace.
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const error = err instanceof URIError || (err as { status?: number }).status === 400
      ? new ProxyError(400, 'invalid_url', 'the request path is not valid (a percent-escape that does not decode)')
      : new ProxyError(500, 'internal_error', 'the proxy failed to handle the request');
    sendError(res, error.status, error.toBody());
  });
  return app;
}

/** The LLM port's request listener: the hot endpoints directly, the rest through express (loaded on first use). */
export function llmRequestListener(ctx: HandlerContext): RequestListener {
  let app: Promise<Express> | undefined;
  const chat = llmHandler('chat', ctx);
  const embeddings = llmHandler('embeddings', ctx);
  return (req: IncomingMessage, res: ServerResponse) => {
    if (req.method === 'POST') {
      const url = req.url ?? '';
      const end = url.indexOf('?');
      const path = end === -1 ? url : url.slice(0, end);
      if (path === '/v1/chat/completions') return void chat(req, res).catch(() => handlerFailed(res));
      if (path === '/v1/embeddings') return void embeddings(req, res).catch(() => handlerFailed(res));
    }
    (app ??= buildLlmApp(ctx)).then(
      (express) => express(req, res),
      () => sendError(res, 500, new ProxyError(500, 'internal_error', 'the proxy failed to handle the request').toBody()),
    );
  };
}

/**
 * A handler that threw past its own error handling (a bug, in telemetry after the answer say): this
 * request gets a 500 or is cut, and the sidecar, serving every other request of its pod, lives on.
 */
function handlerFailed(res: ServerResponse): void {
  // After the headers, sendError ends a stream with an error event and cuts any other answer.
  sendError(res, 500, new ProxyError(500, 'internal_error', 'the proxy failed to handle the request').toBody());
}

export interface AdminOptions {
  store: ConfigStore;
  /** True once a graceful shutdown began: the pod is leaving, so it is not ready (requests are still served). */
  draining?: () => boolean;
  /** Prometheus or OpenMetrics exposition for a scraper's Accept header, when telemetry provides it. */
  metrics?: (accept?: string) => Promise<{ contentType: string; body: string }>;
}

function sendJsonBody(res: ServerResponse, status: number, body: unknown, head: boolean): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(head ? undefined : text);
}

/** The admin port: GET (or HEAD) /healthz, /readyz and /metrics; anything else 404. */
export function adminRequestListener(options: AdminOptions): RequestListener {
  return (req: IncomingMessage, res: ServerResponse) => {
    const head = req.method === 'HEAD';
    const path = (req.url ?? '').split('?')[0];
    if (req.method !== 'GET' && !head) return sendJsonBody(res, 405, { error: 'method not allowed' }, false);
    if (path === '/healthz') return sendJsonBody(res, 200, { status: 'ok' }, head);
    if (path === '/readyz') {
      const runtime = options.store.runtime();
      const lastError = options.store.lastLoadError();
      const draining = options.draining?.() === true;
      const status = draining ? 'draining' : runtime ? 'ready' : 'no_config';
      const body = { status, generation: runtime?.generation ?? null, ...(lastError ? { lastRefusedConfig: lastError } : {}) };
      return sendJsonBody(res, status === 'ready' ? 200 : 503, body, head);
    }
    if (path === '/metrics' && options.metrics) {
      // Given the scraper's Accept header, so that telemetry can answer in OpenMetrics (with exemplars).
      options.metrics(req.headers.accept).then(
        ({ contentType, body }) => {
          res.writeHead(200, { 'content-type': contentType, 'content-length': Buffer.byteLength(body), vary: 'Accept' });
          res.end(head ? undefined : body);
        },
        () => sendJsonBody(res, 500, { error: 'metrics unavailable' }, head),
      );
      return;
    }
    sendJsonBody(res, 404, { error: `no route for ${req.method} ${path?.slice(0, 200)}` }, head);
  };
}
