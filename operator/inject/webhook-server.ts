// The mutating admission webhook that injects the sidecar: HTTPS (the apiserver calls webhooks over
// TLS only), AdmissionReview v1 in and out. Every operator replica serves it, leader or not, so it
// reads what it needs (the namespace's LLMRoutes, for their Secrets) from the apiserver per request
// rather than from the leader's informers. The serving certificate is re-read when its files change
// (cert-manager rotates it), without a restart.
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { readFileSync, watch, type FSWatcher } from 'node:fs';
import { once } from 'node:events';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import { injectionPatch, secretRefsOf, type PodLike, type SidecarSettings } from './sidecar-patch.ts';

export interface WebhookOptions {
  certFile: string;
  keyFile: string;
  host?: string;
  port: number;
  /** The namespace's LLMRoutes, as listed from the apiserver. */
  listRoutes(namespace: string): Promise<unknown[]>;
  sidecar: Omit<SidecarSettings, 'secretRefs'>;
  logger?: Logger;
}

export interface WebhookServer {
  port: number;
  /**
   * Stops taking connections; reviews under way are answered (a cut one would fail its pod's
   * creation), for at most `graceMs`, after which what is left is cut.
   */
  close(graceMs?: number): Promise<void>;
}

interface AdmissionRequest {
  uid: string;
  namespace?: string;
  operation?: string;
  object?: PodLike & { metadata?: { name?: string; generateName?: string } };
}

/** Largest AdmissionReview read: a pod spec is far smaller; the apiserver caps requests at 3 MiB. */
const MAX_REVIEW_BYTES = 4 * 1024 * 1024;

async function readReview(req: IncomingMessage): Promise<{ request?: AdmissionRequest }> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_REVIEW_BYTES) throw new Error('AdmissionReview too large');
    chunks.push(chunk as Buffer);
  }
  return JSON.parse(Buffer.concat(chunks).toString('utf8')) as { request?: AdmissionRequest };
}

function answer(res: ServerResponse, response: Record<string, unknown>): void {
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response }));
}

/** The admission response for one pod: its patch, a warning when it is left alone, a refusal when the routes cannot be read. */
export async function reviewPod(request: AdmissionRequest, options: Pick<WebhookOptions, 'listRoutes' | 'sidecar' | 'logger'>): Promise<Record<string, unknown>> {
  const { uid } = request;
  if (request.operation !== 'CREATE' || !request.object || !request.namespace) return { uid, allowed: true };
  let routes: unknown[];
  try {
    // Once more after a moment: the apiserver answers 429 or 5xx now and then (a restart, a burst),
    // and refusing the pod is the costlier outcome. Well within the webhook's 10 s timeout.
    routes = await options.listRoutes(request.namespace).catch(async () => {
      await new Promise((r) => setTimeout(r, 250));
      return options.listRoutes(request.namespace!);
    });
  } catch (err) {
    // Injection fails closed (failurePolicy Fail): a pod without its sidecar has no model access, and
    // one injected without its Secrets would start with a proxy that has no keys. The pod's controller retries.
    options.logger?.warn({ namespace: request.namespace, err: (err as Error).message }, 'injection refused: the routes could not be read');
    return { uid, allowed: false, status: { code: 503, message: 'llmroute could not read the LLMRoutes of the namespace to inject its sidecar; retry' } };
  }
  const injection = injectionPatch(request.object, { ...options.sidecar, secretRefs: secretRefsOf(routes) });
  if ('skipped' in injection) return { uid, allowed: true, warnings: [`llmroute sidecar not injected: ${injection.skipped}`] };
  // A mistyped tuning annotation: refused rather than run with settings its author did not choose.
  if ('refused' in injection) return { uid, allowed: false, status: { code: 400, reason: 'BadRequest', message: `llmroute sidecar injection: ${injection.refused}` } };
  return { uid, allowed: true, patchType: 'JSONPatch', patch: Buffer.from(JSON.stringify(injection.patch)).toString('base64') };
}

export async function startWebhookServer(options: WebhookOptions): Promise<WebhookServer> {
  const credentials = () => ({ cert: readFileSync(options.certFile), key: readFileSync(options.keyFile) });
  let closing = false;
  const server: Server = createServer({ ...credentials(), minVersion: 'TLSv1.2' }, (req, res) => {
    if (req.method !== 'POST' || req.url?.split('?')[0] !== '/mutate-pods') return void res.writeHead(404).end();
    readReview(req)
      .then(async (review) => {
        if (!review.request?.uid) return void res.writeHead(400).end('not an AdmissionReview');
        const response = await reviewPod(review.request, options);
        // Closing: the connection ends with this answer rather than waiting idle for the deadline.
        if (closing) res.setHeader('connection', 'close');
        answer(res, response);
      })
      .catch((err: unknown) => {
        options.logger?.warn({ err: (err as Error).message }, 'bad admission request');
        if (!res.headersSent) res.writeHead(400).end('bad AdmissionReview');
      });
  });
  // cert-manager (or a mounted Secret) replaces the files: reload them, keep the last good pair on a half-written one.
  const watchers: FSWatcher[] = [...new Set([dirname(options.certFile), dirname(options.keyFile)])].map((dir) =>
    watch(dir, () => {
      try {
        server.setSecureContext(credentials());
      } catch (err) {
        options.logger?.warn({ err: (err as Error).message }, 'webhook certificate reload failed; keeping the last one');
      }
    }),
  );
  server.listen(options.port, options.host ?? '0.0.0.0');
  await once(server, 'listening');
  return {
    port: (server.address() as { port: number }).port,
    close: async (graceMs = 0) => {
      closing = true;
      for (const w of watchers) w.close();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // The apiserver keeps connections alive between reviews: idle ones go now, busy ones once answered.
      server.closeIdleConnections();
      const cut = setTimeout(() => server.closeAllConnections(), graceMs);
      await closed;
      clearTimeout(cut);
    },
  };
}
