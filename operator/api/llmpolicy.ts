// LLMPolicy, the object platform teams write, at most one that counts per namespace.
import { z } from 'zod';
import { PROVIDERS } from '../../proxy/config/schema.ts';
import { GROUP_VERSION, objectMetaSchema } from './llmroute.ts';

export const policySpecSchema = z.strictObject({
  /** Regions a backend may process data in; absent means any. */
  allowedRegions: z.array(z.string().min(1)).optional(),
  allowedProviders: z.array(z.enum(PROVIDERS)).optional(),
  /** Provider model names that may not be used (exact names, or a prefix ending in `*`). */
  deniedModels: z.array(z.string().min(1)).optional(),
  requireZeroDataRetention: z.boolean().optional(),
  logPrompts: z.enum(['never', 'allowed']).optional(),
});

export const llmPolicySchema = z.looseObject({
  apiVersion: z.literal(GROUP_VERSION),
  kind: z.literal('LLMPolicy'),
  metadata: objectMetaSchema,
  spec: policySpecSchema,
});

export type LLMPolicySpec = z.infer<typeof policySpecSchema>;
export type LLMPolicy = z.infer<typeof llmPolicySchema>;
