// The operator's admission webhooks, over HTTPS (the apiserver calls webhooks over TLS only),
// AdmissionReview v1 in and out: `/mutate-pods` injects the sidecar (inject/review-pod.ts), and
// `/validate-llmroutes` and `/validate-llmpolicies` answer `kubectl apply` of a route or a policy with
// the compiler's verdict (review.ts). Every operator replica serves them, leader or not. The serving certificate is
// re-read when its files change (cert-manager rotates it), without a restart.
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { readFileSync, watch, type FSWatcher } from 'node:fs';
import { once } from 'node:events';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import { reviewPod, type PodAdmissionRequest, type PodReviewOptions } from '../inject/review-pod.ts';
import { reviewPolicy, reviewRoute, type ObjectAdmissionRequest } from './review.ts';

export interface WebhookOptions extends PodReviewOptions {
  certFile: string;
  keyFile: string;
  host?: string;
  port: number;
  /** The namespace's LLMPolicies, as listed from the apiserver: with it, the `/validate-*` paths are served. */
  listPolicies?(namespace: string): Promise<unknown[]>;
  logger?: Logger;
}

export interface WebhookServer {
  port: number;
  /**
   * Stops taking connections; reviews under way are answered (a cut one would fail its pod's
   * creation), for at most `graceMs`, after which what is left is cut.
   */
  close(graceMs?: number): Promise<void>;
  /**
   * Still serves, but each answer ends its connection: the apiserver, which keeps a connection to one
   * replica once open, reconnects through the Service and finds another. Idle connections are left
   * open (closing one races a review being sent on it, which the apiserver would not retry).
   */
  drain(): void;
}

type AdmissionRequest = PodAdmissionRequest & ObjectAdmissionRequest;

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

export async function startWebhookServer(options: WebhookOptions): Promise<WebhookServer> {
  const credentials = () => ({ cert: readFileSync(options.certFile), key: readFileSync(options.keyFile) });
  let closing = false;
  const server: Server = createServer({ ...credentials(), minVersion: 'TLSv1.2' }, (req, res) => {
    const path = req.url?.split('?')[0];
    const { listPolicies } = options;
    const review = path === '/mutate-pods' ? (request: AdmissionRequest) => reviewPod(request, options)
      : path === '/validate-llmroutes' && listPolicies ? (request: AdmissionRequest) => reviewRoute(request, { ...options, listPolicies })
      : path === '/validate-llmpolicies' && listPolicies ? (request: AdmissionRequest) => reviewPolicy(request, { ...options, listPolicies })
      : undefined;
    if (req.method !== 'POST' || review === undefined) return void res.writeHead(404).end();
    readReview(req)
      .then(async (body) => {
        if (!body.request?.uid) return void res.writeHead(400).end('not an AdmissionReview');
        const response = await review(body.request);
        // Draining or closing: the connection ends with this answer rather than being reused.
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
    drain: () => {
      closing = true;
    },
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
