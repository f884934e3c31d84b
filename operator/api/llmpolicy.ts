// LLMPolicy, the object platform teams write, at most one that counts per namespace.
import * as z from '../../proxy/config/zod.ts';
import { PROVIDERS, hostPatternSchema } from '../../proxy/config/schema.ts';
import { GROUP_VERSION, objectMetaSchema } from './llmroute.ts';
import { parseByteSize } from './byte-size.ts';

/** Bounds of the sidecar's body caps (proxy/config/schema.ts serverSchema). */
export const MAX_REQUEST_BYTES = 512 * 1024 * 1024;
export const MAX_RESPONSE_BYTES = 1024 * 1024 * 1024;
const MIN_BODY_BYTES = 1024;

/** A size (`20Mi`, or bytes) between 1 KiB and `max`. */
const byteSize = (max: number, maxText: string) =>
  z.union([z.int(), z.string()]).check(
    z.refine((v) => {
      const bytes = parseByteSize(v);
      return bytes !== undefined && bytes >= MIN_BODY_BYTES && bytes <= max;
    }, `must be a size from 1Ki to ${maxText}: a whole number of bytes, or one with a unit (Ki, Mi, Gi, k, M, G), such as 20Mi`),
  );

/** Body caps for the namespace's sidecars. */
export const limitsSchema = z.strictObject({
  /** Largest request body the sidecar accepts (413 above it); default 10Mi. */
  maxRequestSize: z.optional(byteSize(MAX_REQUEST_BYTES, '512Mi')),
  /** Largest non-streamed upstream answer it reads (502 upstream_response_too_large above it); default 64Mi. */
  maxResponseSize: z.optional(byteSize(MAX_RESPONSE_BYTES, '1Gi')),
});

export const policySpecSchema = z.strictObject({
  /** Regions a backend may process data in; absent means any. */
  allowedRegions: z.optional(z.array(z.string().check(z.minLength(1)))),
  allowedProviders: z.optional(z.array(z.enum(PROVIDERS))),
  /** Hosts a backend's baseURL (or its provider's default) may name; absent means any. */
  allowedHosts: z.optional(z.array(hostPatternSchema)),
  /** Provider model names that may not be used (exact names, or a prefix ending in `*`). */
  deniedModels: z.optional(z.array(z.string().check(z.minLength(1)))),
  requireZeroDataRetention: z.optional(z.boolean()),
  logPrompts: z.optional(z.enum(['never', 'allowed'])),
  limits: z.optional(limitsSchema),
});

export const llmPolicySchema = z.looseObject({
  apiVersion: z.literal(GROUP_VERSION),
  kind: z.literal('LLMPolicy'),
  metadata: objectMetaSchema,
  spec: policySpecSchema,
});

export type LLMPolicySpec = z.infer<typeof policySpecSchema>;
export type LLMPolicy = z.infer<typeof llmPolicySchema>;
