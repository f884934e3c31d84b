// LLMRoute, the object application teams write (group llmroute.dev, version v1alpha1).
// The CRD's OpenAPI schema (crds/) and this zod schema describe the same shape; a test keeps them aligned.
import * as z from '../../proxy/config/zod.ts';
import { baseURLSchema, routeEnvNameSchema, PROVIDERS, STRATEGIES } from '../../proxy/config/schema.ts';
import { parseDuration } from './duration.ts';

export const API_GROUP = 'llmroute.dev';
export const API_VERSION = 'v1alpha1';
export const GROUP_VERSION = `${API_GROUP}/${API_VERSION}`;

/** A duration such as 250ms, 2s or 1m30s (a check, shared by the bounded kinds below). */
const isDuration = z.refine<string>((s) => (parseDuration(s) ?? 0) > 0, { message: 'must be a duration such as 250ms, 2s or 1m30s' });
const durationAtMost = (ms: number, message: string) => z.string().check(isDuration, z.refine((s) => (parseDuration(s) ?? 0) <= ms, { message }));
/** A timeout: a duration within the compiled config's bound (24h), so compile never emits one it refuses. */
const timeout = durationAtMost(24 * 3_600_000, 'must be at most 24h');
/** Backoff bounds, the compiled config's own (retriesSchema): beyond them compile would emit a config the proxy refuses. */
const backoff = durationAtMost(60_000, 'must be at most 60s');
const maxBackoff = durationAtMost(300_000, 'must be at most 5m');

/** USD per million tokens. */
const price = z.number().check(z.minimum(0), z.maximum(100_000));

export const secretRefSchema = z.strictObject({
  name: z.string().check(z.regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, 'must be a Secret name (DNS subdomain)'), z.maxLength(253)),
  key: z.string().check(z.regex(/^[-._a-zA-Z0-9]+$/, 'must be a Secret key'), z.maxLength(253)),
});

export const routeCredentialsSchema = z
  .strictObject({
    secretRef: z.optional(secretRefSchema),
    env: z.optional(routeEnvNameSchema),
    none: z.optional(z.boolean()),
  })
  .check(
    z.refine((c) => [c.secretRef !== undefined, c.env !== undefined, c.none === true].filter(Boolean).length === 1, {
      message: 'set exactly one of secretRef, env or none: true',
    }),
  );

/** USD per million tokens over the shipped price table, field by field (route-wide or per backend). */
const pricingSchema = z.strictObject({
  input: z.optional(price),
  cachedInput: z.optional(price),
  cacheWrite: z.optional(price),
  output: z.optional(price),
  reasoning: z.optional(price),
});

export const routeBackendSchema = z.strictObject({
  name: z.string().check(z.regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'must be lower-case alphanumerics and dashes'), z.maxLength(63)),
  provider: z.enum(PROVIDERS),
  model: z.string().check(z.minLength(1)),
  /** Same rules as the compiled config's (proxy/config/schema.ts); the CRD has the same pattern. */
  baseURL: z.optional(baseURLSchema),
  region: z.optional(z.string().check(z.minLength(1))),
  dataRetention: z.optional(z.enum(['zero', 'standard'])),
  credentials: z.optional(routeCredentialsSchema),
  weight: z.optional(z.int().check(z.minimum(0), z.maximum(1_000_000))),
  /** Per attempt; `idle`: longest silence between two chunks of a stream (default 60s). */
  timeouts: z.optional(z.strictObject({ connect: z.optional(timeout), firstToken: z.optional(timeout), idle: z.optional(timeout), total: z.optional(timeout) })),
  pricing: z.optional(pricingSchema),
  options: z.optional(z.record(z.string(), z.unknown())),
});

export const routeSpecSchema = z
  .strictObject({
    models: z.array(z.string().check(z.minLength(1))).check(z.minLength(1)),
    strategy: z.optional(z.enum(STRATEGIES)),
    backends: z.array(routeBackendSchema).check(z.minLength(1)),
    retries: z.optional(z.strictObject({ attempts: z.optional(z.int().check(z.minimum(0), z.maximum(10))), backoff: z.optional(backoff), maxBackoff: z.optional(maxBackoff) })),
    /** `request`: one deadline for the whole request, failovers, retries and backoff included
     *  (default: 10m, or the longest backend total if longer). */
    timeouts: z.optional(z.strictObject({ request: z.optional(timeout) })),
    /** Prices for every backend of the route (a chargeback rate, a negotiated contract); a backend's own pricing wins field by field. */
    pricing: z.optional(pricingSchema),
  })
  .check(z.superRefine((spec, ctx) => {
    const seen = new Set<string>();
    spec.backends.forEach((b, i) => {
      if (seen.has(b.name)) ctx.addIssue({ code: 'custom', path: ['backends', i, 'name'], message: `duplicate backend name "${b.name}"` });
      seen.add(b.name);
    });
    if (spec.strategy === 'weighted' && spec.backends.every((b) => (b.weight ?? 1) === 0)) {
      ctx.addIssue({ code: 'custom', path: ['backends'], message: 'weighted strategy needs at least one backend with weight > 0' });
    }
  }));

export const objectMetaSchema = z.looseObject({
  name: z.string().check(z.minLength(1)),
  namespace: z.optional(z.string()),
  uid: z.optional(z.string()),
  generation: z.optional(z.number()),
  creationTimestamp: z.optional(z.string()),
});

export const llmRouteSchema = z.looseObject({
  apiVersion: z.literal(GROUP_VERSION),
  kind: z.literal('LLMRoute'),
  metadata: objectMetaSchema,
  spec: routeSpecSchema,
});

export type LLMRouteSpec = z.infer<typeof routeSpecSchema>;
export type LLMRoute = z.infer<typeof llmRouteSchema>;
export type RouteBackendSpec = z.infer<typeof routeBackendSchema>;
