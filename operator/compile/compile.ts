// compile(routes, policies) -> compiled config + a status per route. Pure: the operator runs it
// on informer caches, the CLI on YAML files; both get the same bytes for the same input.
import { CONFIG_API_VERSION, CONFIG_KIND, type BackendConfig, type ConfigInput, type PolicyConfig, type RouteConfig, type ServerConfigInput } from '../../proxy/config/schema.ts';
import { configIssues } from '../../proxy/config/parse.ts';
import { configGeneration } from '../../proxy/config/generation.ts';
import { issuesFromZod, type ConfigIssue } from '../../proxy/config/issues.ts';
import { admitBackend } from '../../proxy/policy/admit.ts';
import { intersectHostPatterns } from '../../proxy/policy/host-patterns.ts';
import { bindAdapter } from '../../proxy/providers/registry.ts';
import { llmRouteSchema, type LLMRoute, type LLMRouteSpec, type RouteBackendSpec } from '../api/llmroute.ts';
import { llmPolicySchema, type LLMPolicy } from '../api/llmpolicy.ts';
import { parseDuration } from '../api/duration.ts';
import { parseByteSize } from '../api/byte-size.ts';

export const DEFAULT_SECRETS_DIR = '/var/run/llmroute/secrets';

export interface CompileOptions {
  /** Where the sidecar finds Secret keys: `<secretsDir>/<secret name>/<key>`. */
  secretsDir?: string;
  /** The namespace compiled; objects from other namespaces are ignored. */
  namespace?: string;
}

export interface BackendStatus {
  name: string;
  admitted: boolean;
  reason: 'Admitted' | 'DeniedByPolicy' | 'InvalidBackend';
  message: string;
}

/** `ConfigMapRefused` is set by the reconciler (the API server refused the compiled ConfigMap), never by compile. */
export type RouteReason = 'Compiled' | 'InvalidSpec' | 'ModelConflict' | 'DuplicateName' | 'NoAdmittedBackends' | 'ConfigMapRefused';

export interface RouteStatus {
  /** metadata.name of the LLMRoute (or `(document N)` when it had none). */
  name: string;
  namespace: string | undefined;
  observedGeneration: number | undefined;
  /** True when the route reached the compiled config. */
  compiled: boolean;
  reason: RouteReason;
  message: string;
  /** Issues found in the spec, by path (for `llmroute validate` and status messages). */
  issues: ConfigIssue[];
  backends: BackendStatus[];
}

export interface PolicyStatus {
  name: string;
  valid: boolean;
  message: string;
  issues: ConfigIssue[];
}

export interface CompileResult {
  /** The config to write, generation stamped. */
  config: ConfigInput & { generation: string };
  routes: RouteStatus[];
  policies: PolicyStatus[];
}

/** Policies combine by intersection: a backend must satisfy every policy of the namespace. */
export function mergePolicies(specs: ReadonlyArray<LLMPolicy['spec']>): PolicyConfig {
  // Prompts may be logged only when a policy exists and every policy allows it.
  const merged: PolicyConfig = { requireZeroDataRetention: false, logPrompts: specs.length > 0 && specs.every((s) => s.logPrompts === 'allowed') };
  for (const spec of specs) {
    if (spec.allowedRegions) merged.allowedRegions = merged.allowedRegions ? merged.allowedRegions.filter((r) => spec.allowedRegions!.includes(r)) : [...spec.allowedRegions];
    if (spec.allowedProviders) merged.allowedProviders = merged.allowedProviders ? merged.allowedProviders.filter((p) => spec.allowedProviders!.includes(p)) : [...spec.allowedProviders];
    if (spec.allowedHosts) merged.allowedHosts = merged.allowedHosts ? intersectHostPatterns(merged.allowedHosts, spec.allowedHosts) : [...spec.allowedHosts];
    if (spec.deniedModels) merged.deniedModels = [...(merged.deniedModels ?? []), ...spec.deniedModels];
    if (spec.requireZeroDataRetention) merged.requireZeroDataRetention = true;
  }
  return merged;
}

/** The sidecar's body caps: the smallest any policy sets (each policy's limit holds), absent when none does. */
export function mergeLimits(specs: ReadonlyArray<LLMPolicy['spec']>): ServerConfigInput | undefined {
  const least = (sizes: Array<number | string | undefined>) => {
    const bytes = sizes.filter((s) => s !== undefined).map((s) => parseByteSize(s)!);
    return bytes.length > 0 ? Math.min(...bytes) : undefined;
  };
  const maxBodyBytes = least(specs.map((s) => s.limits?.maxRequestSize));
  const maxResponseBytes = least(specs.map((s) => s.limits?.maxResponseSize));
  if (maxBodyBytes === undefined && maxResponseBytes === undefined) return undefined;
  return { ...(maxBodyBytes !== undefined ? { maxBodyBytes } : {}), ...(maxResponseBytes !== undefined ? { maxResponseBytes } : {}) };
}

function objectName(raw: unknown, index: number): { name: string; namespace: string | undefined; generation: number | undefined } {
  const meta = (raw as { metadata?: { name?: unknown; namespace?: unknown; generation?: unknown } } | null)?.metadata;
  return {
    name: typeof meta?.name === 'string' ? meta.name : `(document ${index + 1})`,
    namespace: typeof meta?.namespace === 'string' ? meta.namespace : undefined,
    generation: typeof meta?.generation === 'number' ? meta.generation : undefined,
  };
}

function compileBackend(spec: RouteBackendSpec, secretsDir: string, routePricing: LLMRouteSpec['pricing']): BackendConfig {
  const c = spec.credentials;
  const credentials: BackendConfig['credentials'] = c?.secretRef
    ? { kind: 'file', path: `${secretsDir}/${c.secretRef.name}/${c.secretRef.key}` }
    : c?.env
      ? { kind: 'env', name: c.env }
      : { kind: 'none' };
  const timeouts: BackendConfig['timeouts'] = {};
  if (spec.timeouts?.connect) timeouts.connectMs = parseDuration(spec.timeouts.connect)!;
  if (spec.timeouts?.firstToken) timeouts.firstTokenMs = parseDuration(spec.timeouts.firstToken)!;
  if (spec.timeouts?.idle) timeouts.idleMs = parseDuration(spec.timeouts.idle)!;
  if (spec.timeouts?.total) timeouts.totalMs = parseDuration(spec.timeouts.total)!;
  const backend: BackendConfig = {
    name: spec.name,
    provider: spec.provider,
    model: spec.model,
    dataRetention: spec.dataRetention ?? 'standard',
    credentials,
    weight: spec.weight ?? 1,
    timeouts,
    options: { ...spec.options }, // copies: the parsed spec is shared by later compiles (parsedOnce)
  };
  if (spec.baseURL !== undefined) backend.baseURL = spec.baseURL;
  if (spec.region !== undefined) backend.region = spec.region;
  // The route's prices apply to each backend; the backend's own win field by field.
  const pricing = { ...routePricing, ...spec.pricing };
  if (Object.keys(pricing).length > 0) backend.pricing = pricing;
  return backend;
}

/**
 * Schema results by source object. The operator compiles a whole namespace on every change in it, and
 * its informer keeps an unchanged object as the same instance (a new version is a new object), so each
 * version of a route or policy is validated once instead of once per reconcile of its namespace.
 * Source objects are never modified; the CLI passes fresh ones on each run.
 */
const routeParses = new WeakMap<object, ReturnType<typeof llmRouteSchema.safeParse>>();
const policyParses = new WeakMap<object, ReturnType<typeof llmPolicySchema.safeParse>>();

function parsedOnce<R>(cache: WeakMap<object, R>, raw: unknown, parse: (raw: unknown) => R): R {
  if (typeof raw !== 'object' || raw === null) return parse(raw);
  let result = cache.get(raw);
  if (result === undefined) {
    result = parse(raw);
    cache.set(raw, result);
  }
  return result;
}

/** Oldest first, then by name: the route that claimed a model first keeps it. */
function byAge(a: LLMRoute, b: LLMRoute): number {
  const ta = a.metadata.creationTimestamp ?? '';
  const tb = b.metadata.creationTimestamp ?? '';
  if (ta !== tb) return ta < tb ? -1 : 1;
  return a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0;
}

export function compile(rawRoutes: readonly unknown[], rawPolicies: readonly unknown[], options: CompileOptions = {}): CompileResult {
  const secretsDir = (options.secretsDir ?? DEFAULT_SECRETS_DIR).replace(/\/+$/, '');
  const inNamespace = (raw: unknown, i: number) => options.namespace === undefined || objectName(raw, i).namespace === options.namespace;

  const policies: PolicyStatus[] = [];
  const policySpecs: LLMPolicy['spec'][] = [];
  rawPolicies.forEach((raw, i) => {
    if (!inNamespace(raw, i)) return;
    const parsed = parsedOnce(policyParses, raw, (r) => llmPolicySchema.safeParse(r));
    const { name } = objectName(raw, i);
    if (parsed.success) {
      policySpecs.push(parsed.data.spec);
      policies.push({ name, valid: true, message: 'policy in force', issues: [] });
    } else {
      const issues = issuesFromZod(parsed.error);
      policies.push({ name, valid: false, message: `invalid policy: ${issues.map((x) => `${x.path}: ${x.message}`).join('; ')}`, issues });
    }
  });
  const invalidPolicy = policies.some((p) => !p.valid);
  const server = mergeLimits(policySpecs);
  // Fail closed: an invalid policy must not silently widen what is allowed, so it admits nothing.
  const policy = invalidPolicy ? { ...mergePolicies(policySpecs), allowedProviders: [] } : mergePolicies(policySpecs);

  const statuses: RouteStatus[] = [];
  const valid: LLMRoute[] = [];
  rawRoutes.forEach((raw, i) => {
    if (!inNamespace(raw, i)) return;
    const parsed = parsedOnce(routeParses, raw, (r) => llmRouteSchema.safeParse(r));
    const id = objectName(raw, i);
    if (!parsed.success) {
      const issues = issuesFromZod(parsed.error);
      statuses.push({
        name: id.name, namespace: id.namespace, observedGeneration: id.generation, compiled: false, reason: 'InvalidSpec',
        message: issues.map((x) => `${x.path}: ${x.message}`).join('; '), issues, backends: [],
      });
    } else valid.push(parsed.data);
  });

  const routes: RouteConfig[] = [];
  const modelOwner = new Map<string, string>();
  for (const route of [...valid].sort(byAge)) {
    const { name, namespace, generation } = route.metadata;
    const status: RouteStatus = { name, namespace, observedGeneration: generation, compiled: false, reason: 'Compiled', message: '', issues: [], backends: [] };
    statuses.push(status);

    // Only files given to the CLI can hold two routes of one name (the API server keeps names unique):
    // the older one keeps it, as with models.
    const routeName = namespace ? `${namespace}/${name}` : name;
    if (routes.some((r) => r.name === routeName)) {
      status.reason = 'DuplicateName';
      status.message = `another LLMRoute named ${routeName} is already compiled`;
      continue;
    }
    const conflicts = route.spec.models.filter((m) => modelOwner.has(m));
    if (conflicts.length > 0) {
      status.reason = 'ModelConflict';
      status.message = conflicts.map((m) => `model ${m} is already served by LLMRoute ${modelOwner.get(m)}`).join('; ');
      continue;
    }

    const backends: BackendConfig[] = [];
    route.spec.backends.forEach((spec, b) => {
      const binding = bindAdapter(spec);
      if (!binding.ok) {
        const adapterIssues = binding.issues.map((x) => ({ path: `spec.backends[${b}].${x.path}`, message: x.message }));
        status.issues.push(...adapterIssues);
        status.backends.push({ name: spec.name, admitted: false, reason: 'InvalidBackend', message: adapterIssues.map((x) => `${x.path}: ${x.message}`).join('; ') });
        return;
      }
      const backend = compileBackend(spec, secretsDir, route.spec.pricing);
      // Judged on the URL the sidecar will call, the provider's default included, as the proxy judges it.
      const admission = admitBackend({ ...backend, baseURL: binding.baseURL, options: binding.options }, policy);
      if (!admission.admitted) {
        status.backends.push({ name: spec.name, admitted: false, reason: admission.reason, message: invalidPolicy ? 'the namespace has an invalid LLMPolicy; nothing is admitted until it is fixed' : admission.message });
        return;
      }
      status.backends.push({ name: spec.name, admitted: true, reason: 'Admitted', message: 'admitted by policy' });
      backends.push(backend);
    });

    if (backends.length === 0 || (route.spec.strategy === 'weighted' && backends.every((b) => b.weight === 0))) {
      status.reason = 'NoAdmittedBackends';
      status.message = 'no backend can serve this route: ' + status.backends.map((b) => `${b.name}: ${b.message}`).join('; ');
      continue;
    }
    routes.push({
      name: routeName,
      models: [...route.spec.models],
      strategy: route.spec.strategy ?? 'failover',
      backends,
      retries: {
        attempts: route.spec.retries?.attempts ?? 1,
        backoffMs: route.spec.retries?.backoff ? parseDuration(route.spec.retries.backoff)! : 100,
        maxBackoffMs: route.spec.retries?.maxBackoff ? parseDuration(route.spec.retries.maxBackoff)! : 10_000,
      },
      ...(route.spec.timeouts?.request ? { timeouts: { requestMs: parseDuration(route.spec.timeouts.request)! } } : {}),
    });
    for (const m of route.spec.models) modelOwner.set(m, routeName);
    status.compiled = true;
    const admitted = backends.length;
    status.message = `${admitted}/${route.spec.backends.length} backends admitted`;
  }

  const content = {
    apiVersion: CONFIG_API_VERSION,
    kind: CONFIG_KIND,
    ...(options.namespace !== undefined ? { namespace: options.namespace } : {}),
    ...(server !== undefined ? { server } : {}),
    policy,
    routes,
  } as const;
  const { apiVersion, kind, ...body } = content;
  const config = { apiVersion, kind, generation: configGeneration(content), ...body };
  const issues = configIssues(config);
  if (issues.length > 0) {
    // The compiler must only ever emit valid configs; reaching this is a bug in compile().
    throw new Error(`compile produced an invalid config: ${issues.map((x) => `${x.path}: ${x.message}`).join('; ')}`);
  }
  return { config, routes: statuses, policies };
}
