// The injected sidecar's CPU and memory: the operator's defaults (the chart's
// `injection.sidecar.resources`), which a pod overrides with annotations, as Istio's and Dapr's
// injectors allow (`llmroute.io/cpu`, `llmroute.io/memory`, `llmroute.io/cpu-limit`,
// `llmroute.io/memory-limit`). The memory limit also sizes the V8 heap, so that the sidecar is told
// to collect garbage before the kernel kills it. Pure.

export interface SidecarResources {
  cpuRequest?: string | undefined;
  memoryRequest?: string | undefined;
  cpuLimit?: string | undefined;
  memoryLimit?: string | undefined;
}

/** No CPU limit: a throttled proxy adds latency to every request of its app (CFS quota periods). */
export const DEFAULT_SIDECAR_RESOURCES: SidecarResources = { cpuRequest: '50m', memoryRequest: '96Mi', memoryLimit: '256Mi' };

export const RESOURCE_ANNOTATIONS = {
  cpuRequest: 'llmroute.io/cpu',
  memoryRequest: 'llmroute.io/memory',
  cpuLimit: 'llmroute.io/cpu-limit',
  memoryLimit: 'llmroute.io/memory-limit',
} as const satisfies Record<keyof SidecarResources, string>;

/** Below this the sidecar (about 60 MiB resident when idle) is killed under load rather than slowed. */
export const MIN_MEMORY_LIMIT_MIB = 96;

/** Kubernetes quantities as people write them (decimal and binary suffixes, millis); no exponents. */
const QUANTITY = /^(\d+(?:\.\d+)?|\.\d+)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$/;
const FACTOR: Record<string, number> = {
  '': 1, m: 1e-3, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18,
  Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60,
};

/** A quantity's value in base units (cores, bytes); undefined when it is not one. */
export function quantityValue(text: string): number | undefined {
  const match = QUANTITY.exec(text);
  return match ? Number(match[1]) * FACTOR[match[2] ?? '']! : undefined;
}

export type ResolvedResources =
  | { resources: { requests?: Record<string, string>; limits?: Record<string, string> }; maxOldSpaceMiB: number | undefined }
  | { error: string };

/** What is wrong with one setting, named by `source` (an annotation or a flag). */
function problem(kind: 'cpu' | 'memory', text: string, source: string): string | undefined {
  const value = quantityValue(text);
  if (value === undefined) return `${source}: ${JSON.stringify(text)} is not a Kubernetes quantity (e.g. ${kind === 'cpu' ? '100m or 1' : '128Mi or 1Gi'})`;
  // `128m` of memory is 0.128 bytes: a slip for 128Mi that the kubelet would accept.
  if (kind === 'memory' && text.endsWith('m')) return `${source}: ${text} is ${value} bytes; memory is written in Mi or Gi`;
  if (value <= 0) return `${source}: must be above zero`;
  return undefined;
}

/**
 * The sidecar's resources: `defaults`, each overridden by its annotation on the pod when present.
 * An error names the setting at fault, an annotation or `sourceOf` a default (the webhook refuses
 * the pod with it: a mistyped annotation must not start a pod with settings its author did not choose).
 */
export function resolveSidecarResources(defaults: SidecarResources, annotations: Readonly<Record<string, string>> = {}, sourceOf: (key: keyof SidecarResources) => string = (key) => `the default ${RESOURCE_ANNOTATIONS[key]}`): ResolvedResources {
  const chosen: SidecarResources = { ...defaults };
  const from: Partial<Record<keyof SidecarResources, string>> = {};
  for (const key of Object.keys(RESOURCE_ANNOTATIONS) as Array<keyof SidecarResources>) {
    const annotation = annotations[RESOURCE_ANNOTATIONS[key]];
    if (annotation !== undefined) {
      chosen[key] = annotation.trim();
      from[key] = RESOURCE_ANNOTATIONS[key];
    }
  }
  const name = (key: keyof SidecarResources) => from[key] ?? sourceOf(key);
  for (const key of Object.keys(RESOURCE_ANNOTATIONS) as Array<keyof SidecarResources>) {
    const text = chosen[key];
    const wrong = text === undefined ? undefined : problem(key.startsWith('cpu') ? 'cpu' : 'memory', text, name(key));
    if (wrong) return { error: wrong };
  }
  for (const [request, limit] of [['cpuRequest', 'cpuLimit'], ['memoryRequest', 'memoryLimit']] as const) {
    const r = chosen[request], l = chosen[limit];
    if (r !== undefined && l !== undefined && quantityValue(r)! > quantityValue(l)!) return { error: `${name(request)} (${r}) is above ${name(limit)} (${l})` };
  }
  const limitMiB = chosen.memoryLimit === undefined ? undefined : quantityValue(chosen.memoryLimit)! / 2 ** 20;
  if (limitMiB !== undefined && limitMiB < MIN_MEMORY_LIMIT_MIB) return { error: `${name('memoryLimit')}: ${chosen.memoryLimit} is below the sidecar's minimum of ${MIN_MEMORY_LIMIT_MIB}Mi` };

  const requests: Record<string, string> = {};
  const limits: Record<string, string> = {};
  if (chosen.cpuRequest !== undefined) requests.cpu = chosen.cpuRequest;
  if (chosen.memoryRequest !== undefined) requests.memory = chosen.memoryRequest;
  if (chosen.cpuLimit !== undefined) limits.cpu = chosen.cpuLimit;
  if (chosen.memoryLimit !== undefined) limits.memory = chosen.memoryLimit;
  return {
    resources: { ...(Object.keys(requests).length > 0 ? { requests } : {}), ...(Object.keys(limits).length > 0 ? { limits } : {}) },
    // Five eighths of the limit for the old generation (160 MiB of 256): the rest holds the young
    // generation, code, buffers and Node itself. Without a limit, V8's own default.
    maxOldSpaceMiB: limitMiB === undefined ? undefined : Math.floor((limitMiB * 5) / 8),
  };
}
