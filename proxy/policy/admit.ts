// Data-residency policy decisions, shared by the three enforcement points: the validating
// webhook (admission), the compiler (backends left out of the ConfigMap) and the proxy at run
// time (fail closed). Pure.
import type { BackendConfig, PolicyConfig } from '../config/schema.ts';

export type Admission = { admitted: true } | { admitted: false; reason: 'DeniedByPolicy'; message: string };

type BackendFacts = Pick<BackendConfig, 'provider' | 'model' | 'region' | 'dataRetention'> & { baseURL?: string | undefined; options?: Readonly<Record<string, unknown>> | undefined };

/** Hosts of Azure OpenAI / AI Foundry endpoints, whatever provider a backend names. */
const AZURE_OPENAI_HOST = /\.(openai\.azure\.com|cognitiveservices\.azure\.com|services\.ai\.azure\.com)$/i;

function hostOf(baseURL: string | undefined): string | undefined {
  if (baseURL === undefined || !URL.canParse(baseURL)) return undefined;
  return new URL(baseURL).hostname;
}

/** Where a backend really processes data, when its config says more than its declared `region`. */
export interface ProcessingRegion {
  /** What allowedRegions is matched against; undefined when the config cannot tell (denied under allowedRegions). */
  region: string | undefined;
  /** Why it differs from the declared region, for the status message. */
  why: string;
}

/**
 * The processing region the backend's own settings imply, whatever `region` declares (reliability bar
 * B15); undefined when `region` is the whole truth. Vertex AI processes where its `location` says (the
 * `global` location anywhere, `us`/`eu` across a multi-region). An Azure OpenAI deployment's type
 * decides: Standard in its region, Data Zone anywhere in its zone, Global anywhere; as Azure's portal
 * now creates Global ones by default, an undeclared type cannot be trusted to stay in `region` (nor
 * can an Azure endpoint configured under another provider, which has no deploymentType to declare).
 * The Gemini Developer API (no `options.vertex`) offers no regional processing at all.
 */
export function processingRegion(backend: BackendFacts): ProcessingRegion | undefined {
  if (backend.provider === 'gemini') {
    const location = (backend.options?.vertex as { location?: unknown } | undefined)?.location;
    if (location === undefined) return backend.region === 'global' ? undefined : { region: 'global', why: 'the Gemini Developer API (without options.vertex) processes data in any region' };
    if (typeof location !== 'string' || location === backend.region) return undefined;
    return { region: location, why: location === 'global' ? 'Vertex AI location global processes data in any region' : `Vertex AI location ${location} is where data is processed` };
  }
  const host = backend.provider === 'azure-openai' ? undefined : hostOf(backend.baseURL);
  if (host !== undefined && AZURE_OPENAI_HOST.test(host)) {
    return { region: undefined, why: `${host} is an Azure OpenAI endpoint, which may be a Global or Data Zone deployment: use provider azure-openai and declare options.deploymentType` };
  }
  if (backend.provider === 'azure-openai') {
    const type = backend.options?.deploymentType;
    if (type === 'standard') return undefined;
    if (type === 'global') return { region: 'global', why: 'an Azure Global deployment processes data in any Azure region' };
    const zone = backend.options?.dataZone;
    if (type === 'dataZone') return { region: typeof zone === 'string' ? zone : undefined, why: `an Azure Data Zone deployment processes data anywhere in its data zone${typeof zone === 'string' ? ` (${zone})` : ''}` };
    return { region: undefined, why: 'an Azure OpenAI deployment may be Global or Data Zone (processed outside its region): options.deploymentType is not declared' };
  }
  return undefined;
}

const list = (values: readonly string[]) => `[${values.join(', ')}]`;

export function modelDenied(model: string, deniedModels: readonly string[]): string | undefined {
  return deniedModels.find((pattern) => (pattern.endsWith('*') ? model.startsWith(pattern.slice(0, -1)) : model === pattern));
}

/** Every rule the backend breaks, so a status can name all of them at once. */
export function policyViolations(backend: BackendFacts, policy: PolicyConfig): string[] {
  const violations: string[] = [];
  if (policy.allowedRegions) {
    const processing = processingRegion(backend);
    const allowed = list(policy.allowedRegions);
    if (processing === undefined) {
      if (backend.region === undefined) violations.push(`region is not declared and allowedRegions is ${allowed}`);
      else if (!policy.allowedRegions.includes(backend.region)) violations.push(`region ${backend.region} not in allowedRegions ${allowed}`);
    } else if (processing.region === undefined || !policy.allowedRegions.includes(processing.region)) {
      violations.push(`${processing.why}${processing.region !== undefined ? `, and allowedRegions ${allowed} does not list ${processing.region}` : `; allowedRegions is ${allowed}`}`);
    }
  }
  if (policy.allowedProviders && !policy.allowedProviders.includes(backend.provider)) {
    violations.push(`provider ${backend.provider} not in allowedProviders ${list(policy.allowedProviders)}`);
  }
  if (policy.deniedModels) {
    // Every name the upstream is called with counts: an Azure deployment is a name of its own (it is
    // what the URL or the v1 body's model carries), and could otherwise alias a denied model.
    const deployment = (backend.options as { deployment?: unknown } | undefined)?.deployment;
    for (const [what, name] of [['model', backend.model], ['options.deployment', typeof deployment === 'string' ? deployment : undefined]] as const) {
      const denied = name === undefined ? undefined : modelDenied(name, policy.deniedModels);
      if (denied !== undefined) violations.push(`${what} ${name} matches deniedModels entry ${denied}`);
    }
  }
  if (policy.requireZeroDataRetention && backend.dataRetention !== 'zero') {
    violations.push(`dataRetention is ${backend.dataRetention ?? 'standard'} but the policy requires zero`);
  }
  return violations;
}

export function admitBackend(backend: BackendFacts, policy: PolicyConfig): Admission {
  const violations = policyViolations(backend, policy);
  return violations.length === 0 ? { admitted: true } : { admitted: false, reason: 'DeniedByPolicy', message: violations.join('; ') };
}
