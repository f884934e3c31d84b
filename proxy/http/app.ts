// The two express apps: the LLM API (127.0.0.1 only by default) and the admin port (probes, metrics).
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

export interface AdminOptions {
  store: ConfigStore;
  /** Prometheus exposition, when telemetry provides it. */
  metrics?: () => Promise<{ contentType: string; body: string }>;
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
    const body = { status: runtime ? 'ready' : 'no_config', generation: runtime?.generation ?? null, ...(lastError ? { lastRefusedConfig: lastError } : {}) };
    res.status(runtime ? 200 : 503).json(body);
  });
  if (options.metrics) {
    const metrics = options.metrics;
    app.get('/metrics', async (_req, res) => {
      const { contentType, body } = await metrics();
      res.type(contentType).send(body);
    });
  }
  return app;
}
