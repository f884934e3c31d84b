// Data-residency policy decisions, shared by the three enforcement points: the validating
// webhook (admission), the compiler (backends left out of the ConfigMap) and the proxy at run
// time (fail closed). Pure.
import type { BackendConfig, PolicyConfig, ProviderName } from '../config/schema.ts';
import { hostFacts, hostOf } from './vendor-hosts.ts';
import { hostMatches } from './host-patterns.ts';

export type Admission = { admitted: true } | { admitted: false; reason: 'DeniedByPolicy'; message: string };

type BackendFacts = Pick<BackendConfig, 'provider' | 'model' | 'region' | 'dataRetention'> & { baseURL?: string | undefined; options?: Readonly<Record<string, unknown>> | undefined };

/** Where a backend really processes data, when its config says more than its declared `region`. */
export interface ProcessingRegion {
  /** What allowedRegions is matched against; undefined when the config cannot tell (denied under allowedRegions). */
  region: string | undefined;
  /** Why it differs from the declared region, for the status message. */
  why: string;
}

/** What the provider's own settings imply (see processingRegions). */
function providerProcessingRegion(backend: BackendFacts): ProcessingRegion | undefined {
  if (backend.provider === 'gemini') {
    const location = (backend.options?.vertex as { location?: unknown } | undefined)?.location;
    if (location === undefined) return backend.region === 'global' ? undefined : { region: 'global', why: 'the Gemini Developer API (without options.vertex) processes data in any region' };
    if (typeof location !== 'string' || location === backend.region) return undefined;
    return { region: location, why: location === 'global' ? 'Vertex AI location global processes data in any region' : `Vertex AI location ${location} is where data is processed` };
  }
  if (backend.provider === 'azure-openai') {
    const type = backend.options?.deploymentType;
    if (type === 'standard') return undefined;
    if (type === 'global') return { region: 'global', why: 'an Azure Global deployment processes data in any Azure region' };
    const zone = backend.options?.dataZone;
    if (type === 'dataZone') return { region: typeof zone === 'string' ? zone : undefined, why: `an Azure Data Zone deployment processes data anywhere in its data zone${typeof zone === 'string' ? ` (${zone})` : ''}` };
    return { region: undefined, why: 'an Azure OpenAI deployment may be Global or Data Zone (processed outside its region): options.deploymentType is not declared' };
  }
  if (anthropicOnItsOwnApi(backend)) {
    const geo = backend.options?.inferenceGeo;
    if (typeof geo !== 'string') return { region: 'global', why: `${hostOf(backend.baseURL)} is Anthropic's API, which runs inference in any geography unless options.inferenceGeo pins it` };
    return geo === backend.region ? undefined : { region: geo, why: `options.inferenceGeo ${geo} is where Anthropic runs inference` };
  }
  return undefined;
}

/** An anthropic backend calling Anthropic's own API, which honours the inference_geo it sends. */
function anthropicOnItsOwnApi(backend: BackendFacts): boolean {
  const host = hostOf(backend.baseURL);
  return backend.provider === 'anthropic' && host !== undefined && hostFacts(host)?.vendor === 'anthropic';
}

/** What the baseURL's host implies, whatever provider the backend declares (see vendor-hosts.ts). */
function hostProcessingRegion(backend: BackendFacts): ProcessingRegion | undefined {
  const host = hostOf(backend.baseURL);
  const facts = host === undefined ? undefined : hostFacts(host);
  // An Azure host under azure-openai is judged by its declared deployment type instead, and
  // Anthropic's under anthropic by the inference geography the adapter sends.
  if (facts?.regionWhy === undefined || (facts.vendor === 'azure-openai' && backend.provider === 'azure-openai') || anthropicOnItsOwnApi(backend)) return undefined;
  // Judged even when it equals the declared region: with another claim (a Vertex location) in the
  // list, the declared region is no longer checked, and the host is where the data goes.
  return { region: facts.region, why: facts.regionWhy };
}

/**
 * Where the backend processes data when its settings say more than its declared `region` (reliability
 * bar B15); empty when `region` is the whole truth, and every entry must be allowed. Vertex AI processes
 * where its `location` says (the `global` location anywhere, `us`/`eu` across a multi-region). An Azure
 * OpenAI deployment's type decides: Standard in its region, Data Zone anywhere in its zone, Global
 * anywhere; as Azure's portal now creates Global ones by default, an undeclared type cannot be trusted
 * to stay in `region` (nor can an Azure endpoint configured under another provider, which has no
 * deploymentType to declare). The Gemini Developer API offers no regional processing at all, and the
 * host counts whatever provider speaks to it: Gemini's OpenAI-compatible endpoint is still the Gemini
 * Developer API. OpenAI's global endpoint processes anywhere, its residency endpoints in their region
 * (vendor-hosts.ts); Anthropic's API anywhere unless the anthropic provider sends an inference_geo.
 */
export function processingRegions(backend: BackendFacts): ProcessingRegion[] {
  const regions: ProcessingRegion[] = [];
  for (const claim of [providerProcessingRegion(backend), hostProcessingRegion(backend)]) {
    if (claim !== undefined && !regions.some((r) => r.region === claim.region && claim.region !== undefined)) regions.push(claim);
  }
  return regions;
}

/** The vendor the baseURL reaches when it is not the one the provider names; undefined otherwise. */
export function hostVendor(backend: BackendFacts): { host: string; vendor: ProviderName } | undefined {
  const host = hostOf(backend.baseURL);
  const vendor = host === undefined ? undefined : hostFacts(host)?.vendor;
  return host !== undefined && vendor !== undefined && vendor !== backend.provider ? { host, vendor } : undefined;
}

const list = (values: readonly string[]) => `[${values.join(', ')}]`;

export function modelDenied(model: string, deniedModels: readonly string[]): string | undefined {
  return deniedModels.find((pattern) => (pattern.endsWith('*') ? model.startsWith(pattern.slice(0, -1)) : model === pattern));
}

/** Every rule the backend breaks, so a status can name all of them at once. */
export function policyViolations(backend: BackendFacts, policy: PolicyConfig): string[] {
  const violations: string[] = [];
  if (policy.allowedRegions) {
    const processing = processingRegions(backend);
    const allowed = list(policy.allowedRegions);
    if (processing.length === 0) {
      if (backend.region === undefined) violations.push(`region is not declared and allowedRegions is ${allowed}`);
      else if (!policy.allowedRegions.includes(backend.region)) violations.push(`region ${backend.region} not in allowedRegions ${allowed}`);
    }
    for (const { region, why } of processing) {
      if (region === undefined || !policy.allowedRegions.includes(region)) {
        violations.push(`${why}${region !== undefined ? `, and allowedRegions ${allowed} does not list ${region}` : `; allowedRegions is ${allowed}`}`);
      }
    }
  }
  if (policy.allowedProviders) {
    const allowed = list(policy.allowedProviders);
    if (!policy.allowedProviders.includes(backend.provider)) violations.push(`provider ${backend.provider} not in allowedProviders ${allowed}`);
    // The wire format is not the vendor: a backend declared anthropic may point at DeepSeek's
    // Anthropic-compatible API, and prompts go where the host is.
    const reached = hostVendor(backend);
    if (reached !== undefined && !policy.allowedProviders.includes(reached.vendor)) {
      violations.push(`baseURL host ${reached.host} is ${reached.vendor}'s, and allowedProviders ${allowed} does not list ${reached.vendor}`);
    }
  }
  if (policy.allowedHosts) {
    const host = hostOf(backend.baseURL);
    if (host === undefined) violations.push(`the backend has no baseURL and allowedHosts is ${list(policy.allowedHosts)}`);
    else if (!policy.allowedHosts.some((pattern) => hostMatches(host, pattern))) violations.push(`baseURL host ${host} not in allowedHosts ${list(policy.allowedHosts)}`);
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
