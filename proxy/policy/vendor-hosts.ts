// Which vendor a backend's baseURL really reaches, whatever `provider` it declares. A provider name
// picks a wire format, and vendors serve each other's formats (DeepSeek and Alibaba speak
// Anthropic's, Google and Anthropic speak OpenAI's), so a backend declared `anthropic` may send
// prompts to api.deepseek.com. Policy judges the vendor the host belongs to as well (reliability
// bar B13). Only hosts known here are recognised; any other host (self-hosted, a corporate egress
// proxy) is judged by what the backend declares. Pure.
import type { ProviderName } from '../config/schema.ts';

export interface HostFacts {
  /** The vendor that runs the host, named as the provider that speaks its native API. */
  vendor: ProviderName;
  /** What allowedRegions must list when the host alone decides where data is processed; undefined when it cannot be known from the host. */
  region?: string | undefined;
  /** Why the host implies that region, for the status message; set exactly when the host decides the region. */
  regionWhy?: string;
}

/** `host` is `domain` or one of its subdomains. */
const under = (host: string, domain: string) => host === domain || host.endsWith(`.${domain}`);

/** Azure OpenAI, AI Foundry and Azure AI model inference endpoints, public and sovereign clouds. */
const AZURE_OPENAI = /\.(openai\.azure\.(com|us|cn)|cognitiveservices\.azure\.(com|us|cn)|services\.ai\.azure\.com|models\.ai\.azure\.com|inference\.ai\.azure\.com|api\.cognitive\.microsoft\.com)$/;
/** Alibaba Model Studio (DashScope): dashscope.aliyuncs.com, dashscope-intl.aliyuncs.com, ... */
const DASHSCOPE = /(^|\.)dashscope[a-z0-9-]*\.aliyuncs\.com$/;
/** Vertex AI's regional hosts: `{location}-aiplatform.googleapis.com`. */
const VERTEX_REGIONAL = /^([a-z0-9-]+)-aiplatform\.googleapis\.com$/;
/** Vertex AI's multi-region and regional-endpoint hosts: `aiplatform.{location}.rep.googleapis.com`. */
const VERTEX_REP = /^aiplatform\.([a-z0-9-]+)\.rep\.googleapis\.com$/;

/** OpenAI's data-residency endpoints: `{region}.api.openai.com`. */
const OPENAI_RESIDENCY = /^([a-z]{2})\.api\.openai\.com$/;
/** The residency endpoints OpenAI documents as processing in-region, and where that is. */
const OPENAI_REGIONAL_PROCESSING: Readonly<Record<string, string>> = {
  us: 'the United States',
  eu: 'the European Economic Area and Switzerland',
};

/**
 * OpenAI hosts: the global endpoint puts no constraint on where data is processed; a project with data
 * residency is served at `{region}.api.openai.com`, which processes in-region only where the region
 * offers regional processing (us and eu); elsewhere only storage is in-region, so the processing
 * region is not known here.
 */
function openaiFacts(host: string): HostFacts {
  if (host === 'api.openai.com') return { vendor: 'openai', region: 'global', regionWhy: `${host} is OpenAI's global endpoint, which processes data in any region (us.api.openai.com and eu.api.openai.com process in-region)` };
  const prefix = OPENAI_RESIDENCY.exec(host)?.[1];
  if (prefix === undefined) return { vendor: 'openai' };
  const where = OPENAI_REGIONAL_PROCESSING[prefix];
  if (where !== undefined) return { vendor: 'openai', region: prefix, regionWhy: `${host} is OpenAI's data-residency endpoint for ${where} (${prefix}), where data is processed` };
  return { vendor: 'openai', region: undefined, regionWhy: `${host} is an OpenAI data-residency endpoint that keeps data at rest in its region; whether it processes data there too depends on the region and the model, which is not known here` };
}

/** Google hosts: which Gemini service, and where it processes data. */
function googleFacts(host: string): HostFacts {
  if (host === 'generativelanguage.googleapis.com') return { vendor: 'gemini', region: 'global', regionWhy: `${host} is the Gemini Developer API, which processes data in any region` };
  if (host === 'aiplatform.googleapis.com') return { vendor: 'gemini', region: 'global', regionWhy: `${host} is Vertex AI's global endpoint, which processes data in any region` };
  const location = VERTEX_REGIONAL.exec(host)?.[1] ?? VERTEX_REP.exec(host)?.[1];
  if (location !== undefined) return { vendor: 'gemini', region: location, regionWhy: `${host} is Vertex AI in ${location}, where data is processed` };
  return { vendor: 'gemini', region: undefined, regionWhy: `${host} is a Google API host whose processing region is not known` };
}

/** The host of a URL, lower case and without the root label's dot (`api.openai.com.` is api.openai.com). */
export function hostOf(baseURL: string | undefined): string | undefined {
  if (baseURL === undefined || !URL.canParse(baseURL)) return undefined;
  return new URL(baseURL).hostname.toLowerCase().replace(/\.+$/, '');
}

/** What is known about a host; undefined for a host no vendor here is known to run. */
export function hostFacts(host: string): HostFacts | undefined {
  if (under(host, 'googleapis.com')) return googleFacts(host);
  if (AZURE_OPENAI.test(host)) {
    return { vendor: 'azure-openai', region: undefined, regionWhy: `${host} is an Azure OpenAI endpoint, which may be a Global or Data Zone deployment: use provider azure-openai and declare options.deploymentType` };
  }
  if (under(host, 'openai.com')) return openaiFacts(host);
  // Anthropic's API runs inference in any geography unless the request's inference_geo says
  // otherwise, which only the anthropic provider sends (options.inferenceGeo, see admit.ts).
  if (under(host, 'anthropic.com')) return { vendor: 'anthropic', region: 'global', regionWhy: `${host} is Anthropic's API, which runs inference in any geography unless a request sets inference_geo (provider anthropic, options.inferenceGeo)` };
  if (under(host, 'mistral.ai')) return { vendor: 'mistral' };
  // DeepSeek's API and DashScope's mainland endpoint process data in mainland China, whatever a
  // backend declares; the region name is `cn`.
  if (under(host, 'deepseek.com')) return { vendor: 'deepseek', region: 'cn', regionWhy: `${host} is DeepSeek's API, which processes data in mainland China (cn)` };
  if (host === 'dashscope.aliyuncs.com') return { vendor: 'qwen', region: 'cn', regionWhy: `${host} is Alibaba Model Studio's Beijing endpoint, which processes data in mainland China (cn)` };
  if (DASHSCOPE.test(host)) return { vendor: 'qwen' };
  return undefined;
}
