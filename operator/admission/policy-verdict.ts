// What the validating webhook answers for an LLMPolicy at `kubectl apply`: an invalid policy (a
// misspelt or unknown field, which the CRD keeps so that nothing is silently pruned) is refused, since
// it would admit nothing; a valid one is admitted, with a warning for each backend of the namespace's
// routes that it would leave out, so the platform team sees at once what its change denies. The
// compiler's verdict, as for routes. Pure.
import { compile } from '../compile/compile.ts';

export type PolicyVerdict = { allowed: true; warnings: string[] } | { allowed: false; code: 422; message: string };

/** Warnings past this many are summed up: kubectl prints each on its own line. */
const MAX_WARNINGS = 10;

type Named = { metadata?: { name?: string } };

export function policyVerdict(policy: unknown, namespace: string, otherPolicies: readonly unknown[], routes: readonly unknown[]): PolicyVerdict {
  const name = (policy as Named).metadata?.name;
  const alone = compile([], [policy], { namespace }).policies[0];
  if (alone !== undefined && !alone.valid) return { allowed: false, code: 422, message: `invalid LLMPolicy: ${alone.issues.map((x) => `${x.path}: ${x.message}`).join('; ')}` };
  // The namespace as it will be: this policy in place of its stored version, beside the others.
  const policies = [...otherPolicies.filter((p) => (p as Named).metadata?.name !== name), policy];
  const before = deniedBackends(compile(routes, otherPolicies, { namespace }));
  const after = deniedBackends(compile(routes, policies, { namespace }));
  const newlyDenied = [...after].filter(([key]) => !before.has(key)).map(([, message]) => message);
  const warnings = newlyDenied.slice(0, MAX_WARNINGS);
  if (newlyDenied.length > MAX_WARNINGS) warnings.push(`and ${newlyDenied.length - MAX_WARNINGS} more backends this policy denies (see the routes' status)`);
  return { allowed: true, warnings };
}

/** Denied backends by route and backend name, with what the warning says of each. */
function deniedBackends(result: ReturnType<typeof compile>): Map<string, string> {
  const denied = new Map<string, string>();
  for (const route of result.routes) {
    for (const backend of route.backends) {
      if (backend.reason === 'DeniedByPolicy') denied.set(`${route.name}/${backend.name}`, `LLMRoute ${route.name}: backend ${backend.name} will be denied: ${backend.message}`);
    }
  }
  return denied;
}
