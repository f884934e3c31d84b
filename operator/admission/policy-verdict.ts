// What the validating webhook answers for an LLMPolicy at `kubectl apply`: an invalid policy (a
// misspelt or unknown field, which the CRD keeps so that nothing is silently pruned) is refused, since
// it would admit nothing; a valid one is admitted, with a warning for each backend of the namespace's
// routes that it takes away, so the platform team sees at once what its change denies. The
// compiler's verdict, as for routes. Pure.
import { compile } from '../compile/compile.ts';
import { MAX_WARNINGS, validPolicies } from './policies.ts';

export type PolicyVerdict = { allowed: true; warnings: string[] } | { allowed: false; code: 422; message: string };

type PolicyObject = { metadata?: { name?: string; deletionTimestamp?: string } };

function issuesOf(policy: unknown, namespace: string): string[] {
  const status = compile([], [policy], { namespace }).policies[0];
  return status === undefined || status.valid ? [] : status.issues.map((x) => `${x.path}: ${x.message}`);
}

/**
 * The answer for a policy being created (`old` undefined) or updated. As for routes, an update is
 * refused only for problems it brings: a policy stored invalid (before this webhook, or while it was
 * unreachable) can still be relabelled, and deleted when a finalizer must be removed.
 */
export function policyVerdict(policy: unknown, old: unknown, namespace: string, storedPolicies: readonly unknown[], routes: readonly unknown[]): PolicyVerdict {
  const name = (policy as PolicyObject).metadata?.name;
  const issues = issuesOf(policy, namespace);
  const hadIssues = new Set(old === undefined ? [] : issuesOf(old, namespace));
  const fresh = issues.filter((issue) => !hadIssues.has(issue));
  if (issues.length > 0) {
    if (fresh.length > 0 && (policy as PolicyObject).metadata?.deletionTimestamp === undefined) return { allowed: false, code: 422, message: `invalid LLMPolicy: ${fresh.join('; ')}` };
    return { allowed: true, warnings: [`this LLMPolicy is invalid, so no backend of the namespace is admitted until it is fixed: ${issues.join('; ')}`] };
  }
  // The namespace as it is and as it will be, judged by its valid policies (see policies.ts).
  const others = validPolicies(storedPolicies.filter((p) => (p as PolicyObject).metadata?.name !== name), namespace).valid;
  const stored = validPolicies(storedPolicies, namespace).valid;
  const admittedBefore = admittedBackends(compile(routes, stored, { namespace }));
  const taken: string[] = [];
  for (const route of compile(routes, [...others, policy], { namespace }).routes) {
    for (const backend of route.backends) {
      // Only what was serving: a backend never admitted (its route left out for a conflict, say) is not taken away.
      if (backend.reason === 'DeniedByPolicy' && admittedBefore.has(`${route.name}/${backend.name}`)) taken.push(`LLMRoute ${route.name}: backend ${backend.name} will be denied: ${backend.message}`);
    }
  }
  const warnings = taken.slice(0, MAX_WARNINGS);
  if (taken.length > MAX_WARNINGS) warnings.push(`and ${taken.length - MAX_WARNINGS} more backends this policy denies (see the routes' status)`);
  return { allowed: true, warnings };
}

/** Backends the compiler admitted, by route and backend name. */
function admittedBackends(result: ReturnType<typeof compile>): Set<string> {
  const admitted = new Set<string>();
  for (const route of result.routes) {
    if (!route.compiled) continue;
    for (const backend of route.backends) if (backend.admitted) admitted.add(`${route.name}/${backend.name}`);
  }
  return admitted;
}
