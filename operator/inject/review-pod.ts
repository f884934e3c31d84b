// The injection webhook's answer for one pod: the namespace's LLMRoutes read from the apiserver (for
// the Secrets they reference), the patch from sidecar-patch.ts. Every operator replica answers, leader
// or not, so it reads per request rather than from the leader's informers.
import type { Logger } from 'pino';
import { injectionPatch, secretRefsOf, type PodLike, type SidecarSettings } from './sidecar-patch.ts';

export interface PodReviewOptions {
  /** The namespace's LLMRoutes, as listed from the apiserver. */
  listRoutes(namespace: string): Promise<unknown[]>;
  sidecar: Omit<SidecarSettings, 'secretRefs'>;
  logger?: Logger | undefined;
}

export interface PodAdmissionRequest {
  uid: string;
  namespace?: string;
  operation?: string;
  object?: PodLike & { metadata?: { name?: string; generateName?: string } };
}

/** The admission response for one pod: its patch, a warning when it is left alone, a refusal when the routes cannot be read. */
export async function reviewPod(request: PodAdmissionRequest, options: PodReviewOptions): Promise<Record<string, unknown>> {
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
