// The two express apps: the LLM API (127.0.0.1 only by default) and the admin port (probes, metrics).
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import express, { type Express } from 'express';
import { ProxyError, sendError } from './errors.ts';
import { llmHandler, type HandlerContext } from './chat.ts';
import { passthroughHandler } from './passthrough.ts';
import type { ConfigStore } from '../runtime/config-store.ts';

export function buildLlmApp(ctx: HandlerContext): Express {
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  app.post('/v1/chat/completions', llmHandler('chat', ctx));
  app.post('/v1/embeddings', llmHandler('embeddings', ctx));
  app.get('/v1/models', (_req, res) => {
    const runtime = ctx.runtime();
    const created = 0;
    res.json({ object: 'list', data: (runtime?.models ?? []).map((id) => ({ id, object: 'model', created, owned_by: 'llmroute' })) });
  });
  app.post('/v1/{*endpoint}', passthroughHandler(ctx));
  app.use((req, res) => {
    const error = new ProxyError(404, 'unknown_url', `no route for ${req.method} ${req.path.slice(0, 200)}`);
    sendError(res, 404, error.toBody());
  });
  return app;
}

/**
 * The LLM port's request listener. The two hot endpoints are served straight from node:http when the
 * path matches exactly; every other request (and every variant of those paths express would accept:
 * trailing slash, other case) goes through the express app, which serves the same handlers. Why:
 * express re-prototypes `req`/`res` on every request, which alone cost 80-150 µs of CPU per call
 * in our measurements, a third of the latency budget of the whole proxy.
 */
export function llmRequestListener(ctx: HandlerContext): RequestListener {
  const app = buildLlmApp(ctx);
  const chat = llmHandler('chat', ctx);
  const embeddings = llmHandler('embeddings', ctx);
  return (req: IncomingMessage, res: ServerResponse) => {
    if (req.method === 'POST') {
      const url = req.url ?? '';
      const end = url.indexOf('?');
      const path = end === -1 ? url : url.slice(0, end);
      if (path === '/v1/chat/completions') return void chat(req, res);
      if (path === '/v1/embeddings') return void embeddings(req, res);
    }
    app(req, res);
  };
}

export interface AdminOptions {
  store: ConfigStore;
  /** True once a graceful shutdown began: the pod is leaving, so it is not ready (requests are still served). */
  draining?: () => boolean;
  /** Prometheus or OpenMetrics exposition for a scraper's Accept header, when telemetry provides it. */
  metrics?: (accept?: string) => Promise<{ contentType: string; body: string }>;
}

export function buildAdminApp(options: AdminOptions): Express {
  const app = express();
  app.disable('x-powered-by');
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', (_req, res) => {
    const runtime = options.store.runtime();
    const lastError = options.store.lastLoadError();
    const draining = options.draining?.() === true;
    const status = draining ? 'draining' : runtime ? 'ready' : 'no_config';
    const body = { status, generation: runtime?.generation ?? null, ...(lastError ? { lastRefusedConfig: lastError } : {}) };
    res.status(status === 'ready' ? 200 : 503).json(body);
  });
  if (options.metrics) {
    // Given the scraper's Accept header, so that telemetry can answer in OpenMetrics (with exemplars).
    const metrics = options.metrics;
    app.get('/metrics', async (req, res) => {
      const { contentType, body } = await metrics(req.headers.accept);
      res.vary('Accept').type(contentType).send(body);
    });
  }
  return app;
}
