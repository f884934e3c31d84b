// What the validating webhook answers for an LLMRoute at `kubectl apply`: what the operator would
// otherwise write into the route's status later, said at once and refused (DESIGN: policy is enforced
// at admission, at compile time and at run time). The verdict is the compiler's own (compile() on the
// route with the namespace's policies and other routes), so the three cannot disagree. Pure.
import { compile } from '../compile/compile.ts';
import { MAX_WARNINGS, validPolicies } from './policies.ts';

export type RouteVerdict =
  | { allowed: true; warnings: string[] }
  | { allowed: false; code: 403 | 409 | 422; message: string };

/** One problem: what is said, and what identifies it across edits (not a backend's position in the list). */
interface Problem {
  key: string;
  text: string;
}

interface Problems {
  /** The spec is invalid (422): the compiler would leave the route out. */
  invalid: Problem[];
  /** Backends the namespace's valid policies deny (403). */
  denied: Problem[];
  /** Models a route the compiler serves already has (409). */
  conflicts: Problem[];
}

type RouteObject = { metadata?: { name?: string; deletionTimestamp?: string }; spec?: { models?: unknown; backends?: unknown } };

function problemsOf(route: RouteObject, namespace: string, policies: readonly unknown[], servedModels: ReadonlyMap<string, string>): Problems {
  // Denials are judged by the valid policies: an invalid one denies everything, for its own fault
  // (a note says so), which must not hide what the valid ones deny.
  const status = compile([route], policies, { namespace }).routes[0];
  const problems: Problems = { invalid: [], denied: [], conflicts: [] };
  if (status === undefined) return problems;
  const backendNames = Array.isArray(route.spec?.backends) ? (route.spec.backends as Array<{ name?: unknown }>).map((b) => String(b?.name)) : [];
  for (const issue of status.issues) {
    const key = issue.path.replace(/^spec\.backends\[(\d+)\]/, (_, i: string) => `spec.backends[name=${backendNames[Number(i)]}]`);
    problems.invalid.push({ key: `${key}: ${issue.message}`, text: `${issue.path}: ${issue.message}` });
  }
  for (const backend of status.backends.filter((b) => b.reason === 'DeniedByPolicy')) {
    const text = `backend ${backend.name}: ${backend.message}`;
    problems.denied.push({ key: text, text });
  }
  const models = Array.isArray(route.spec?.models) ? route.spec.models.map(String) : [];
  for (const model of models) {
    const owner = servedModels.get(model);
    if (owner !== undefined) problems.conflicts.push({ key: `${model} ${owner}`, text: `model ${model} is already served by LLMRoute ${owner}` });
  }
  return problems;
}

/** The models the namespace's other routes serve as compiled (a route left out serves none), by route name. */
function modelsServed(route: RouteObject, namespace: string, policies: readonly unknown[], otherRoutes: readonly unknown[]): Map<string, string> {
  const others = otherRoutes.filter((r) => (r as RouteObject).metadata?.name !== route.metadata?.name);
  const served = new Map<string, string>();
  for (const compiled of compile(others, policies, { namespace }).config.routes) {
    for (const model of compiled.models) served.set(model, compiled.name.slice(namespace.length + 1));
  }
  return served;
}

/**
 * The answer for a route being created (`old` undefined) or updated. An update is refused only for
 * problems it brings: one the stored route already had (a policy tightened since) is a warning, so
 * that relabelling, editing or deleting such a route is never blocked.
 */
export function routeVerdict(route: unknown, old: unknown, namespace: string, policies: readonly unknown[], otherRoutes: readonly unknown[]): RouteVerdict {
  const { valid, notes } = validPolicies(policies, namespace);
  const served = modelsServed(route as RouteObject, namespace, valid, otherRoutes);
  const current = problemsOf(route as RouteObject, namespace, valid, served);
  const before = old === undefined ? undefined : problemsOf(old as RouteObject, namespace, valid, served);
  const warnings = [...notes];
  const fresh = (kind: keyof Problems) => {
    const had = new Set((before?.[kind] ?? []).map((p) => p.key));
    warnings.push(...current[kind].filter((p) => had.has(p.key)).map((p) => p.text));
    return current[kind].filter((p) => !had.has(p.key)).map((p) => p.text);
  };
  const invalid = fresh('invalid');
  const denied = fresh('denied');
  const conflicts = fresh('conflicts');
  const capped = warnings.length > MAX_WARNINGS ? [...warnings.slice(0, MAX_WARNINGS), `and ${warnings.length - MAX_WARNINGS} more (see the route's status)`] : warnings;
  if ((route as RouteObject).metadata?.deletionTimestamp !== undefined) return { allowed: true, warnings: capped };
  if (invalid.length > 0) return { allowed: false, code: 422, message: `invalid LLMRoute: ${invalid.join('; ')}` };
  if (denied.length > 0) return { allowed: false, code: 403, message: `denied by the namespace's LLMPolicy: ${denied.join('; ')}` };
  if (conflicts.length > 0) return { allowed: false, code: 409, message: conflicts.join('; ') };
  return { allowed: true, warnings: capped };
}
