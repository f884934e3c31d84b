// Wire config -> runtime config: adapters bound, options validated, key sources opened and an O(1)
// model -> route index built. Built once per config load; if it fails the previous runtime stays.
import type { BackendConfig, PolicyConfig, ProxyConfig, RouteConfig } from '../config/schema.ts';
import type { ConfigIssue } from '../config/issues.ts';
import type { BackendTarget, ProviderAdapter } from '../providers/adapter.ts';
import { adapterFor } from '../providers/registry.ts';
import { admitBackend } from '../policy/admit.ts';
import { keySource, type KeySource } from './credentials.ts';

export interface RuntimeBackend {
  config: BackendConfig;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- options type is the adapter's own
  adapter: ProviderAdapter<any>;
  baseURL: string;
  options: Record<string, unknown>;
  key: KeySource;
  /** Route-unique identity for per-backend state (breaker, pools): `route/backend`. */
  id: string;
  /** Host and port of the upstream, for telemetry. */
  host: string;
  port: number;
  /** Policy verdict at load: a denied backend is never called (fail closed). */
  denied: string | undefined;
}

export interface RuntimeRoute {
  config: RouteConfig;
  backends: RuntimeBackend[];
}

export interface Runtime {
  generation: string;
  config: ProxyConfig;
  policy: PolicyConfig;
  routeFor(model: string): RuntimeRoute | undefined;
  /** Model names served, sorted (for /v1/models and 404 messages). */
  models: readonly string[];
}

export type BuildResult = { ok: true; runtime: Runtime } | { ok: false; issues: ConfigIssue[] };

export function targetOf(backend: RuntimeBackend): BackendTarget {
  return { config: backend.config, baseURL: backend.baseURL, options: backend.options, apiKey: backend.key.current() };
}

export function buildRuntime(config: ProxyConfig, env: Readonly<Record<string, string | undefined>>): BuildResult {
  const issues: ConfigIssue[] = [];
  const index = new Map<string, RuntimeRoute>();
  config.routes.forEach((route, r) => {
    const backends: RuntimeBackend[] = [];
    route.backends.forEach((backend, b) => {
      const at = `routes[${r}].backends[${b}]`;
      const adapter = adapterFor(backend.provider);
      if (!adapter) {
        issues.push({ path: `${at}.provider`, message: `provider ${backend.provider} is not supported by this proxy version` });
        return;
      }
      const options = adapter.optionsSchema.safeParse(backend.options);
      if (!options.success) {
        for (const i of options.error.issues) issues.push({ path: [`${at}.options`, ...i.path.map(String)].join('.'), message: i.message });
        return;
      }
      const baseURL = (backend.baseURL ?? adapter.defaultBaseURL)?.replace(/\/+$/, '');
      if (!baseURL) {
        issues.push({ path: `${at}.baseURL`, message: `provider ${backend.provider} has no default base URL; set baseURL` });
        return;
      }
      const url = new URL(baseURL);
      const admission = admitBackend(backend, config.policy);
      backends.push({
        config: backend,
        adapter,
        baseURL,
        options: options.data as Record<string, unknown>,
        key: keySource(backend.credentials, env),
        id: `${route.name}/${backend.name}`,
        host: url.hostname,
        port: url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80,
        denied: admission.admitted ? undefined : admission.message,
      });
    });
    const runtimeRoute = { config: route, backends };
    for (const model of route.models) index.set(model, runtimeRoute);
  });
  if (issues.length > 0) return { ok: false, issues };
  const models = [...index.keys()].sort();
  return { ok: true, runtime: { generation: config.generation, config, policy: config.policy, routeFor: (m) => index.get(m), models } };
}
