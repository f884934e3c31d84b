// Route and policy status from a compile result. A route: conditions (Ready, Compiled,
// PolicyCompliant) with observedGeneration, and per-backend admission. A policy: observedGeneration
// and conditions Ready (the summary: valid and in force) and Accepted (False, reason InvalidPolicy,
// when the policy cannot be enforced as written). Pure; lastTransitionTime is kept while a
// condition's status does not change, so an unchanged status compares equal and is not rewritten.
import type { PolicyStatus, RouteStatus } from '../compile/compile.ts';
import { CONFIGMAP_NAME } from './configmap.ts';

export interface Condition {
  type: 'Ready' | 'Compiled' | 'PolicyCompliant' | 'Accepted';
  status: 'True' | 'False';
  observedGeneration?: number;
  lastTransitionTime: string;
  reason: string;
  message: string;
}

export interface LLMRouteStatus {
  observedGeneration?: number;
  backendsAdmitted: string;
  conditions: Condition[];
  backends: Array<{ name: string; admitted: boolean; reason: string; message: string }>;
}

/** A condition-maker for one object: lastTransitionTime is kept from `previous` while the status does not change. */
function conditionMaker(previous: { conditions?: Condition[] } | undefined, gen: number | undefined, now: string) {
  return (type: Condition['type'], ok: boolean, reason: string, message: string): Condition => {
    const before = previous?.conditions?.find((c) => c.type === type);
    const status = ok ? 'True' : 'False';
    return {
      type,
      status,
      ...(gen !== undefined ? { observedGeneration: gen } : {}),
      lastTransitionTime: before && before.status === status ? before.lastTransitionTime : now,
      reason,
      message: message.slice(0, 32_000),
    };
  };
}

export function routeStatus(result: RouteStatus, previous: Partial<LLMRouteStatus> | undefined, now: string): LLMRouteStatus {
  const admitted = result.backends.filter((b) => b.admitted).length;
  const denied = result.backends.filter((b) => b.reason === 'DeniedByPolicy');
  const compiled = result.reason !== 'InvalidSpec' && result.reason !== 'ModelConflict' && result.reason !== 'DuplicateName';
  const gen = result.observedGeneration;
  const make = conditionMaker(previous, gen, now);
  const conditions = [
    make('Ready', result.compiled, result.compiled ? (denied.length > 0 ? 'PartiallyAdmitted' : 'Ready') : result.reason, result.compiled ? `${result.message}; serving models in the namespace ConfigMap llmroute-config` : result.message),
    make('Compiled', compiled, compiled ? 'Compiled' : result.reason, compiled ? 'the spec compiled' : result.message),
    make('PolicyCompliant', denied.length === 0, denied.length === 0 ? 'Compliant' : 'DeniedByPolicy', denied.length === 0 ? 'every backend is admitted by the namespace policy' : denied.map((b) => `${b.name}: ${b.message}`).join('; ')),
  ];
  return {
    ...(gen !== undefined ? { observedGeneration: gen } : {}),
    backendsAdmitted: `${admitted}/${result.backends.length}`,
    conditions,
    backends: result.backends.map((b) => ({ name: b.name, admitted: b.admitted, reason: b.reason, message: b.message })),
  };
}

export interface LLMPolicyStatus {
  observedGeneration?: number;
  conditions: Condition[];
}

/**
 * A policy's status. `others` are the compile results of the namespace's other policies: one invalid
 * policy makes the namespace admit nothing (fail closed), which the valid ones say too. `refused`: why
 * the API server refused the namespace's compiled ConfigMap, when it did; the policy is then not in
 * force (Ready False, ConfigMapRefused) though it is valid (Accepted True). Ready is False with
 * Accepted's reason while the policy is invalid, and True (reason Ready) when it is in force.
 */
export function policyStatus(result: PolicyStatus, generation: number | undefined, others: readonly PolicyStatus[], previous: Partial<LLMPolicyStatus> | undefined, now: string, refused?: string): LLMPolicyStatus {
  const make = conditionMaker(previous, generation, now);
  const invalid = others.filter((p) => !p.valid && p.name !== result.name).map((p) => p.name);
  const message = result.valid
    ? invalid.length === 0
      ? 'the policy is in force for every LLMRoute of the namespace'
      : `the policy is valid, but LLMPolicy ${invalid.join(', ')} in this namespace is invalid: no backend is admitted until it is fixed`
    : `${result.message}; no backend of the namespace is admitted until it is fixed`;
  const accepted = make('Accepted', result.valid, result.valid ? 'Accepted' : 'InvalidPolicy', message);
  const ready = !result.valid
    ? make('Ready', false, accepted.reason, message)
    : refused !== undefined
      ? make('Ready', false, 'ConfigMapRefused', `the policy is valid, but the API server refused the namespace ConfigMap ${CONFIGMAP_NAME} (${refused}); the sidecars keep enforcing the last config they loaded`)
      : make('Ready', true, 'Ready', message);
  return {
    ...(generation !== undefined ? { observedGeneration: generation } : {}),
    conditions: [ready, accepted],
  };
}

/**
 * Equal when nothing a reader would see changed: the same JSON, whatever the key order (a key whose
 * value is undefined is absent, as in JSON). Compared in place rather than through canonicalJson: it
 * runs for every route of a namespace at each reconcile, and building two sorted JSON strings each time
 * was a visible share of the operator's CPU during a burst of creates.
 */
export function sameStatus(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((item, i) => sameStatus(item, b[i]));
  }
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  const keys = (o: Record<string, unknown>) => Object.keys(o).filter((k) => o[k] !== undefined);
  const kx = keys(x);
  if (kx.length !== keys(y).length) return false;
  return kx.every((k) => Object.hasOwn(y, k) && sameStatus(x[k], y[k]));
}
