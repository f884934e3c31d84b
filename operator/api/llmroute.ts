// LLMRoute, the object application teams write (group llmroute.dev, version v1alpha1).
// The CRD's OpenAPI schema (crds/) and this zod schema describe the same shape; a test keeps them aligned.
import { z } from 'zod';
import { baseURLSchema, PROVIDERS, STRATEGIES } from '../../proxy/config/schema.ts';
import { parseDuration } from './duration.ts';

export const API_GROUP = 'llmroute.dev';
export const API_VERSION = 'v1alpha1';
export const GROUP_VERSION = `${API_GROUP}/${API_VERSION}`;

const duration = z.string().refine((s) => (parseDuration(s) ?? 0) > 0, { message: 'must be a duration such as 250ms, 2s or 1m30s' });
/** A timeout: a duration within the compiled config's bound (24h), so compile never emits one it refuses. */
const timeout = duration.refine((s) => (parseDuration(s) ?? 0) <= 24 * 3_600_000, { message: 'must be at most 24h' });
/** Backoff bounds, the compiled config's own (retriesSchema): beyond them compile would emit a config the proxy refuses. */
const backoff = duration.refine((s) => (parseDuration(s) ?? 0) <= 60_000, { message: 'must be at most 60s' });
const maxBackoff = duration.refine((s) => (parseDuration(s) ?? 0) <= 300_000, { message: 'must be at most 5m' });

/** USD per million tokens. */
const price = z.number().min(0).max(100_000);

export const secretRefSchema = z.strictObject({
  name: z.string().regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, 'must be a Secret name (DNS subdomain)').max(253),
  key: z.string().regex(/^[-._a-zA-Z0-9]+$/, 'must be a Secret key').max(253),
});

export const routeCredentialsSchema = z
  .strictObject({
    secretRef: secretRefSchema.optional(),
    env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/).optional(),
    none: z.boolean().optional(),
  })
  .refine((c) => [c.secretRef !== undefined, c.env !== undefined, c.none === true].filter(Boolean).length === 1, {
    message: 'set exactly one of secretRef, env or none: true',
  });

/** USD per million tokens over the shipped price table, field by field (route-wide or per backend). */
const pricingSchema = z.strictObject({
  input: price.optional(),
  cachedInput: price.optional(),
  cacheWrite: price.optional(),
  output: price.optional(),
  reasoning: price.optional(),
});

export const routeBackendSchema = z.strictObject({
  name: z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'must be lower-case alphanumerics and dashes').max(63),
  provider: z.enum(PROVIDERS),
  model: z.string().min(1),
  /** Same rules as the compiled config's (proxy/config/schema.ts); the CRD has the same pattern. */
  baseURL: baseURLSchema.optional(),
  region: z.string().min(1).optional(),
  dataRetention: z.enum(['zero', 'standard']).optional(),
  credentials: routeCredentialsSchema.optional(),
  weight: z.number().int().min(0).max(1_000_000).optional(),
  /** Per attempt; `idle`: longest silence between two chunks of a stream (default 60s). */
  timeouts: z.strictObject({ connect: timeout.optional(), firstToken: timeout.optional(), idle: timeout.optional(), total: timeout.optional() }).optional(),
  pricing: pricingSchema.optional(),
  options: z.record(z.string(), z.unknown()).optional(),
});

export const routeSpecSchema = z
  .strictObject({
    models: z.array(z.string().min(1)).min(1),
    strategy: z.enum(STRATEGIES).optional(),
    backends: z.array(routeBackendSchema).min(1),
    retries: z.strictObject({ attempts: z.number().int().min(0).max(10).optional(), backoff: backoff.optional(), maxBackoff: maxBackoff.optional() }).optional(),
    /** `request`: one deadline for the whole request, failovers, retries and backoff included
     *  (default: 10m, or the longest backend total if longer). */
    timeouts: z.strictObject({ request: timeout.optional() }).optional(),
    /** Prices for every backend of the route (a chargeback rate, a negotiated contract); a backend's own pricing wins field by field. */
    pricing: pricingSchema.optional(),
  })
  .superRefine((spec, ctx) => {
    const seen = new Set<string>();
    spec.backends.forEach((b, i) => {
      if (seen.has(b.name)) ctx.addIssue({ code: 'custom', path: ['backends', i, 'name'], message: `duplicate backend name "${b.name}"` });
      seen.add(b.name);
    });
    if (spec.strategy === 'weighted' && spec.backends.every((b) => (b.weight ?? 1) === 0)) {
      ctx.addIssue({ code: 'custom', path: ['backends'], message: 'weighted strategy needs at least one backend with weight > 0' });
    }
  });

export const objectMetaSchema = z.looseObject({
  name: z.string().min(1),
  namespace: z.string().optional(),
  uid: z.string().optional(),
  generation: z.number().optional(),
  creationTimestamp: z.string().optional(),
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
