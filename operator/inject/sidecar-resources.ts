// The injected sidecar's CPU and memory: the operator's defaults (the chart's
// `injection.sidecarResources`), which a pod overrides with annotations, as Istio's and Dapr's
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

/**
 * Kubernetes' quantity grammar: a number (`1`, `1.5`, `.5`, `1.`, with an optional `+`), then a binary
 * suffix (Ki...Ei), a decimal one (m, k, M...E) or an exponent (`1e3`, `1E-2`). Helm prints a large
 * number from a values file as `2.68435456e+08`, which the apiserver accepts too.
 */
const QUANTITY = /^\+?(\d+\.?\d*|\.\d+)(Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E|[eE][+-]?\d{1,3})?$/;
const BINARY: Record<string, number> = { Ki: 1, Mi: 2, Gi: 3, Ti: 4, Pi: 5, Ei: 6 };
const DECIMAL: Record<string, number> = { '': 0, m: -3, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };
/** Values are compared in units of 10^-SCALE, exactly: 700m and 0.7 are equal, as Kubernetes has them. */
const SCALE = 40;

/** A quantity's exact value in 10^-40 base units (cores, bytes); undefined when it is not one. */
export function quantityUnits(text: string): bigint | undefined {
  const match = QUANTITY.exec(text);
  if (!match) return undefined;
  const [whole = '', fraction = ''] = match[1]!.split('.');
  const suffix = match[2] ?? '';
  const digits = BigInt(`${whole}${fraction}` || '0');
  const power10 = (BINARY[suffix] !== undefined ? 0 : DECIMAL[suffix] ?? Number(suffix.slice(1))) - fraction.length + SCALE;
  const binary = 1024n ** BigInt(BINARY[suffix] ?? 0);
  return power10 >= 0 ? digits * binary * 10n ** BigInt(power10) : (digits * binary) / 10n ** BigInt(-power10);
}

/** A quantity in base units as a float, for sizes (the heap); undefined when it is not one. */
export function quantityValue(text: string): number | undefined {
  const units = quantityUnits(text);
  if (units === undefined) return undefined;
  const one = 10n ** BigInt(SCALE);
  return Number.parseFloat(`${units / one}.${(units % one).toString().padStart(SCALE, '0')}`);
}

export type ResolvedResources =
  | { resources: { requests?: Record<string, string>; limits?: Record<string, string> }; maxOldSpaceMiB: number | undefined }
  | { error: string };

/** What is wrong with one setting, named by `source` (an annotation or a flag). */
function problem(kind: 'cpu' | 'memory', text: string, source: string): string | undefined {
  const units = quantityUnits(text);
  if (units === undefined) return `${source}: ${JSON.stringify(text)} is not a Kubernetes quantity (e.g. ${kind === 'cpu' ? '100m or 1' : '128Mi or 1Gi'})`;
  // `128m` of memory is 0.128 bytes: a slip for 128Mi that the kubelet would accept.
  if (kind === 'memory' && text.endsWith('m')) return `${source}: ${text} is ${quantityValue(text)} bytes; memory is written in Mi or Gi`;
  if (units <= 0n) return `${source}: must be above zero`;
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
    if (r !== undefined && l !== undefined && quantityUnits(r)! > quantityUnits(l)!) return { error: `${name(request)} (${r}) is above ${name(limit)} (${l})` };
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
