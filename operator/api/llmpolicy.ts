// LLMPolicy, the object platform teams write, at most one that counts per namespace.
import * as z from '../../proxy/config/zod.ts';
import { PROVIDERS, hostPatternSchema } from '../../proxy/config/schema.ts';
import { GROUP_VERSION, objectMetaSchema } from './llmroute.ts';

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
});

export const llmPolicySchema = z.looseObject({
  apiVersion: z.literal(GROUP_VERSION),
  kind: z.literal('LLMPolicy'),
  metadata: objectMetaSchema,
  spec: policySpecSchema,
});

export type LLMPolicySpec = z.infer<typeof policySpecSchema>;
export type LLMPolicy = z.infer<typeof llmPolicySchema>;
