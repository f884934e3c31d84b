// Data-residency policy decisions, shared by the three enforcement points: the validating
// webhook (admission), the compiler (backends left out of the ConfigMap) and the proxy at run
// time (fail closed). Pure.
import type { BackendConfig, PolicyConfig } from '../config/schema.ts';

export type Admission = { admitted: true } | { admitted: false; reason: 'DeniedByPolicy'; message: string };

type BackendFacts = Pick<BackendConfig, 'provider' | 'model' | 'region' | 'dataRetention'> & { options?: Readonly<Record<string, unknown>> | undefined };

/**
 * Where the config itself says data is processed globally, whatever `region` declares (reliability bar
 * B15): Vertex AI's `global` location serves from any region. Such a backend passes `allowedRegions`
 * only when the policy lists `global`.
 */
export function globalProcessing(backend: BackendFacts): string | undefined {
  const vertex = backend.options?.vertex as { location?: unknown } | undefined;
  if (backend.provider === 'gemini' && vertex?.location === 'global') return 'Vertex AI location global processes data in any region';
  return undefined;
}

const list = (values: readonly string[]) => `[${values.join(', ')}]`;

export function modelDenied(model: string, deniedModels: readonly string[]): string | undefined {
  return deniedModels.find((pattern) => (pattern.endsWith('*') ? model.startsWith(pattern.slice(0, -1)) : model === pattern));
}

/** Every rule the backend breaks, so a status can name all of them at once. */
export function policyViolations(backend: BackendFacts, policy: PolicyConfig): string[] {
  const violations: string[] = [];
  const global = globalProcessing(backend);
  if (policy.allowedRegions && global !== undefined && !policy.allowedRegions.includes('global')) {
    violations.push(`${global}, and allowedRegions ${list(policy.allowedRegions)} does not list global`);
  } else if (policy.allowedRegions && global === undefined) {
    if (backend.region === undefined) violations.push(`region is not declared and allowedRegions is ${list(policy.allowedRegions)}`);
    else if (!policy.allowedRegions.includes(backend.region)) violations.push(`region ${backend.region} not in allowedRegions ${list(policy.allowedRegions)}`);
  }
  if (policy.allowedProviders && !policy.allowedProviders.includes(backend.provider)) {
    violations.push(`provider ${backend.provider} not in allowedProviders ${list(policy.allowedProviders)}`);
  }
  const denied = policy.deniedModels ? modelDenied(backend.model, policy.deniedModels) : undefined;
  if (denied !== undefined) violations.push(`model ${backend.model} matches deniedModels entry ${denied}`);
  if (policy.requireZeroDataRetention && backend.dataRetention !== 'zero') {
    violations.push(`dataRetention is ${backend.dataRetention ?? 'standard'} but the policy requires zero`);
  }
  return violations;
}

export function admitBackend(backend: BackendFacts, policy: PolicyConfig): Admission {
  const violations = policyViolations(backend, policy);
  return violations.length === 0 ? { admitted: true } : { admitted: false, reason: 'DeniedByPolicy', message: violations.join('; ') };
}
