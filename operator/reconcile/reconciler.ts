// Reconcile one namespace: read routes and policies (from the informer caches), compile, apply the
// ConfigMap with server-side apply, then hand each route's and policy's changed status to the status
// writer (written in the background: the next namespace's ConfigMap does not wait for them) and what
// changed in them to the event recorder (sent in the background too).
import * as k8s from '@kubernetes/client-node';
import { compile } from '../compile/compile.ts';
import { API_GROUP, API_VERSION, type LLMRoute } from '../api/llmroute.ts';
import type { RouteStatus } from '../compile/compile.ts';
import { CONFIG_KEY, CONFIGMAP_NAME, configMapFor, FIELD_MANAGER, type RouteRef } from './configmap.ts';
import { policyStatus, routeStatus, sameStatus, type LLMPolicyStatus, type LLMRouteStatus } from './status.ts';
import { StatusWriter, type StatusTarget } from './status-writer.ts';
import type { EventRecorder } from './events.ts';

interface Meta {
  metadata: { name: string; namespace?: string; uid?: string; generation?: number };
}

export interface ReconcileSources {
  routes(namespace: string): Array<LLMRoute & { metadata: { uid?: string }; status?: Partial<LLMRouteStatus> }>;
  /** The namespace's LLMPolicy objects (validated by compile; `metadata` is all that is read here). */
  policies(namespace: string): ReadonlyArray<Partial<Meta> & { status?: Partial<LLMPolicyStatus> }>;
  configMapExists(namespace: string): boolean;
  /** The LLMRoute owner references the namespace's ConfigMap carries now (from the cache). */
  configMapOwners?(namespace: string): readonly RouteRef[];
}

export interface ReconcileClients {
  objects: Pick<k8s.KubernetesObjectApi, 'patch'>;
  statuses: StatusWriter;
  events?: EventRecorder;
  /** Told the config text just before it is applied (so its own watch event can be recognised). */
  applying?(namespace: string, configText: string): void;
}

export interface ReconcileOutcome {
  applied: boolean;
  generation?: string;
  /** Route and policy statuses handed to the status writer (changed since the cached and the last written). */
  statusUpdates: number;
}

export async function reconcileNamespace(namespace: string, sources: ReconcileSources, clients: ReconcileClients, options: { secretsDir?: string } = {}): Promise<ReconcileOutcome> {
  const routes = sources.routes(namespace);
  const policies = sources.policies(namespace);
  const withConfigMap = routes.length > 0 || sources.configMapExists(namespace);
  if (!withConfigMap && policies.length === 0) return { applied: false, statusUpdates: 0 };
  const result = compile(routes, policies, { namespace, ...(options.secretsDir ? { secretsDir: options.secretsDir } : {}) });
  /** Why the API server refused the ConfigMap for good (retrying the same one cannot help); routes say so. */
  let refused: { error: unknown; message: string } | undefined;
  if (withConfigMap) {
    // With no route left, the ConfigMap (now serving nothing) keeps the owner references it has: they
    // name the deleted routes, so the garbage collector removes it. Applied without them, server-side
    // apply would drop them and the ConfigMap would be left behind for good.
    const owners = routes.length > 0 ? routes.filter((r) => r.metadata.uid).map((r) => ({ name: r.metadata.name, uid: r.metadata.uid! })) : (sources.configMapOwners?.(namespace) ?? []);
    const configMap = configMapFor(namespace, result, owners);
    clients.applying?.(namespace, configMap.data[CONFIG_KEY]);
    try {
      await clients.objects.patch(configMap, undefined, undefined, FIELD_MANAGER, true, k8s.PatchStrategy.ServerSideApply);
    } catch (error) {
      const message = refusalOf(error);
      if (message === undefined) throw error; // transient (network, 409, 429, 5xx): retried, statuses left alone
      refused = { error, message };
    }
  }

  let statusUpdates = 0;
  const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  const live = new Set<string>();
  const target = (kind: StatusTarget['kind'], meta: Meta['metadata']): StatusTarget => {
    const t: StatusTarget = { kind, namespace, name: meta.name, ...(meta.uid ? { uid: meta.uid } : {}) };
    live.add(StatusWriter.keyOf(t));
    return t;
  };
  const routesByName = new Map(routes.map((r) => [r.metadata.name, r]));
  const routeTargets = new Map(routes.map((r) => [r.metadata.name, target('LLMRoute', r.metadata)]));
  const policiesByName = new Map(policies.filter((p): p is Meta & { status?: Partial<LLMPolicyStatus> } => typeof p.metadata?.name === 'string').map((p) => [p.metadata.name, p]));
  const policyTargets = new Map([...policiesByName.values()].map((p) => [p.metadata.name, target('LLMPolicy', p.metadata)]));
  clients.statuses.retain(namespace, live);
  clients.events?.retain(namespace, live);

  for (const status of result.routes) {
    const route = routesByName.get(status.name);
    if (!route) continue;
    const next = routeStatus(refused ? notApplied(status, refused.message) : status, route.status, now);
    const t = routeTargets.get(status.name)!;
    clients.events?.route(t, route.status, next);
    if (sameStatus(next, route.status)) {
      clients.statuses.alreadyShows(t, next); // a stale write still waiting must not land after this
      continue;
    }
    if (clients.statuses.submit(t, next)) statusUpdates++;
  }
  for (const status of result.policies) {
    const policy = policiesByName.get(status.name);
    if (!policy) continue;
    const next = policyStatus(status, policy.metadata.generation, result.policies, policy.status, now, refused?.message);
    const t = policyTargets.get(status.name)!;
    clients.events?.policy(t, policy.status, next);
    if (sameStatus(next, policy.status)) {
      clients.statuses.alreadyShows(t, next);
      continue;
    }
    if (clients.statuses.submit(t, next)) statusUpdates++;
  }
  if (refused) throw refused.error; // still retried (rate-limited): the cause may be fixed outside (RBAC, quota)
  return { applied: withConfigMap, generation: result.config.generation, statusUpdates };
}

/**
 * The API server's reason when it refused the ConfigMap itself (400, 403, 413, 422: too large,
 * forbidden, invalid); undefined for errors worth a plain retry. The ConfigMap holds no secret, so
 * the server's message may be shown (cut).
 */
function refusalOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown }).code;
  if (code !== 400 && code !== 403 && code !== 413 && code !== 422) return undefined;
  const body = (error as { body?: unknown }).body;
  let detail = typeof body === 'string' ? body : '';
  try {
    const parsed = JSON.parse(detail) as { message?: unknown };
    if (typeof parsed.message === 'string') detail = parsed.message;
  } catch {
    // not JSON: the raw text
  }
  return `HTTP ${code}${detail ? `: ${detail.slice(0, 500)}` : ''}`;
}

/** A compiled route whose ConfigMap was refused is not served: Ready turns False with the reason. */
function notApplied(status: RouteStatus, message: string): RouteStatus {
  if (!status.compiled) return status;
  return { ...status, compiled: false, reason: 'ConfigMapRefused', message: `the API server refused the namespace ConfigMap ${CONFIGMAP_NAME} (${message}); the sidecars keep serving the last config they loaded` };
}

const PLURALS: Record<StatusTarget['kind'], string> = { LLMRoute: 'llmroutes', LLMPolicy: 'llmpolicies' };

/**
 * Writes an object's status through the status subresource. A JSON patch whose first operation tests
 * metadata.uid: when the name now belongs to another object (deleted and recreated since the status was
 * computed), the API server refuses the whole patch (422) and the status never lands on the namesake.
 * (A uid in a merge patch is no precondition: the status subresource ignores metadata changes.)
 */
export function statusPatcher(custom: k8s.CustomObjectsApi) {
  return async (target: StatusTarget, status: object): Promise<void> => {
    const body = [...(target.uid ? [{ op: 'test', path: '/metadata/uid', value: target.uid }] : []), { op: 'add', path: '/status', value: status }];
    await custom.patchNamespacedCustomObjectStatus(
      { group: API_GROUP, version: API_VERSION, namespace: target.namespace, plural: PLURALS[target.kind], name: target.name, body },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.JsonPatch),
    );
  };
}
