// The validating webhook's answers for LLMRoutes and LLMPolicies: the namespace's policies and routes
// read from the apiserver, the verdicts from route-verdict.ts and policy-verdict.ts. The webhook is an
// early answer, not the enforcement (the compiler and the sidecar enforce whatever is stored), so when
// the apiserver cannot be read the object is admitted with a warning rather than blocking every change.
import type { Logger } from 'pino';
import { routeVerdict } from './route-verdict.ts';
import { policyVerdict } from './policy-verdict.ts';

export interface ObjectReviewOptions {
  listPolicies(namespace: string): Promise<unknown[]>;
  listRoutes(namespace: string): Promise<unknown[]>;
  logger?: Logger | undefined;
}

type KubeObject = { metadata?: Record<string, unknown> } & Record<string, unknown>;

export interface ObjectAdmissionRequest {
  uid: string;
  namespace?: string;
  operation?: string;
  object?: KubeObject;
  oldObject?: KubeObject;
}

type Verdict = { allowed: true; warnings: string[] } | { allowed: false; code: 403 | 409 | 422; message: string };

/** Kubernetes' reason for each refusal code, as its own validation answers. */
const REASON = { 403: 'Forbidden', 409: 'Conflict', 422: 'Invalid' } as const;

async function review(
  request: ObjectAdmissionRequest,
  options: ObjectReviewOptions,
  kind: string,
  judge: (object: KubeObject, old: KubeObject | undefined, namespace: string, policies: unknown[], routes: unknown[]) => Verdict,
): Promise<Record<string, unknown>> {
  const { uid, namespace } = request;
  if ((request.operation !== 'CREATE' && request.operation !== 'UPDATE') || !request.object || !namespace) return { uid, allowed: true };
  let policies: unknown[];
  let routes: unknown[];
  try {
    [policies, routes] = await Promise.all([options.listPolicies(namespace), options.listRoutes(namespace)]);
  } catch (err) {
    options.logger?.warn({ namespace, err: (err as Error).message }, `${kind} admitted unchecked: the namespace could not be read`);
    return { uid, allowed: true, warnings: [`llmroute could not check this ${kind} against the namespace now; the operator reports on it in the status of the namespace's objects`] };
  }
  // The namespace the request names, whatever the object says (compile keeps only that namespace's objects).
  const inNamespace = (object: KubeObject): KubeObject => ({ ...object, metadata: { ...object.metadata, namespace } });
  const old = request.operation === 'UPDATE' && request.oldObject ? inNamespace(request.oldObject) : undefined;
  const verdict = judge(inNamespace(request.object), old, namespace, policies, routes);
  if (verdict.allowed) return { uid, allowed: true, ...(verdict.warnings.length > 0 ? { warnings: verdict.warnings } : {}) };
  return { uid, allowed: false, status: { code: verdict.code, reason: REASON[verdict.code], message: verdict.message } };
}

export function reviewRoute(request: ObjectAdmissionRequest, options: ObjectReviewOptions): Promise<Record<string, unknown>> {
  return review(request, options, 'LLMRoute', routeVerdict);
}

export function reviewPolicy(request: ObjectAdmissionRequest, options: ObjectReviewOptions): Promise<Record<string, unknown>> {
  return review(request, options, 'LLMPolicy', policyVerdict);
}
