// The namespace's LLMPolicies as the validating webhook judges with them. Pure.
import { compile } from '../compile/compile.ts';

/** Warnings past this many are summed up: the apiserver keeps about 4 KiB of them in all. */
export const MAX_WARNINGS = 10;

/**
 * The valid policies, and a note for each invalid one. The compiler lets an invalid policy deny
 * everything (fail closed); the webhook judges by the valid ones, so that what they deny is still said
 * while the invalid one is being fixed. The note names the policy only: its content is its own
 * status's to tell.
 */
export function validPolicies(policies: readonly unknown[], namespace: string): { valid: unknown[]; notes: string[] } {
  const valid: unknown[] = [];
  const notes: string[] = [];
  for (const policy of policies) {
    const status = compile([], [policy], { namespace }).policies[0];
    if (status === undefined) continue;
    if (status.valid) valid.push(policy);
    else notes.push(`LLMPolicy ${status.name} of the namespace is invalid, so no backend is admitted until it is fixed (see its status)`);
  }
  return { valid, notes };
}
