// What the validating webhook answers for an LLMRoute at `kubectl apply`: what the operator would
// otherwise write into the route's status later, said at once and refused (DESIGN: policy is enforced
// at admission, at compile time and at run time). The verdict is the compiler's own (compile() on the
// route alone, with the namespace's policies), so the three can never disagree. Pure.
import { compile } from '../compile/compile.ts';

export type RouteVerdict =
  | { allowed: true; warnings: string[] }
  | { allowed: false; code: 403 | 409 | 422; message: string };

interface Problems {
  /** The spec is invalid (422): the compiler would leave the route out. */
  invalid: string[];
  /** Backends the namespace's policies deny (403). */
  denied: string[];
  /** Models another route of the namespace already serves (409). */
  conflicts: string[];
  /** Said, never refused: the namespace has an invalid policy (nothing is admitted until it is fixed). */
  notes: string[];
}

type RouteObject = { metadata?: { name?: string; deletionTimestamp?: string }; spec?: { models?: unknown } };

function problemsOf(route: RouteObject, namespace: string, policies: readonly unknown[], otherRoutes: readonly unknown[]): Problems {
  const result = compile([route], policies, { namespace });
  const status = result.routes[0];
  const problems: Problems = { invalid: [], denied: [], conflicts: [], notes: [] };
  const brokenPolicies = result.policies.filter((p) => !p.valid);
  for (const policy of brokenPolicies) problems.notes.push(`LLMPolicy ${policy.name} of the namespace is invalid, so no backend is admitted until it is fixed: ${policy.message}`);
  if (status === undefined) return problems;
  problems.invalid.push(...status.issues.map((x) => `${x.path}: ${x.message}`));
  // With a broken policy every backend is denied, for the policy's fault, not the route's.
  if (brokenPolicies.length === 0) problems.denied.push(...status.backends.filter((b) => b.reason === 'DeniedByPolicy').map((b) => `backend ${b.name}: ${b.message}`));
  const models = Array.isArray(route.spec?.models) ? route.spec.models : [];
  for (const other of otherRoutes as RouteObject[]) {
    const name = other.metadata?.name;
    if (name === undefined || name === route.metadata?.name || !Array.isArray(other.spec?.models)) continue;
    for (const model of models) if (other.spec.models.includes(model)) problems.conflicts.push(`model ${String(model)} is already served by LLMRoute ${name}`);
  }
  return problems;
}

/**
 * The answer for a route being created (`old` undefined) or updated. An update is refused only for
 * problems it brings: one the stored route already had (a policy tightened since) is a warning, so
 * that relabelling or deleting such a route is never blocked.
 */
export function routeVerdict(route: unknown, old: unknown, namespace: string, policies: readonly unknown[], otherRoutes: readonly unknown[]): RouteVerdict {
  const current = problemsOf(route as RouteObject, namespace, policies, otherRoutes);
  const before = old === undefined ? undefined : problemsOf(old as RouteObject, namespace, policies, otherRoutes);
  const warnings = [...current.notes];
  const fresh = (kind: 'invalid' | 'denied' | 'conflicts') => {
    const had = new Set(before?.[kind] ?? []);
    warnings.push(...current[kind].filter((p) => had.has(p)));
    return current[kind].filter((p) => !had.has(p));
  };
  const invalid = fresh('invalid');
  const denied = fresh('denied');
  const conflicts = fresh('conflicts');
  if ((route as RouteObject).metadata?.deletionTimestamp !== undefined) return { allowed: true, warnings };
  if (invalid.length > 0) return { allowed: false, code: 422, message: `invalid LLMRoute: ${invalid.join('; ')}` };
  if (denied.length > 0) return { allowed: false, code: 403, message: `denied by the namespace's LLMPolicy: ${denied.join('; ')}` };
  if (conflicts.length > 0) return { allowed: false, code: 409, message: conflicts.join('; ') };
  return { allowed: true, warnings };
}
