// Route status equality: what decides whether a status is written again. Policy status: Ready (the
// summary `kubectl wait --for=condition=Ready` reads) beside Accepted.
import { describe, expect, test } from '@jest/globals';
import { policyStatus, sameStatus } from '#operator/reconcile/status.ts';
import type { PolicyStatus } from '#operator/compile/compile.ts';
import { canonicalJson } from '#proxy/config/generation.ts';

const status = {
  observedGeneration: 2,
  backendsAdmitted: '1/2',
  conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: '2026-01-01T00:00:00Z', reason: 'Ready', message: 'ok' }],
  backends: [
    { name: 'a', admitted: true, reason: 'Admitted', message: '' },
    { name: 'b', admitted: false, reason: 'DeniedByPolicy', message: 'region' },
  ],
};
const clone = <T>(v: T): T => structuredClone(v);

const cases: Array<[string, unknown, boolean]> = [
  ['the same content', clone(status), true],
  ['keys in another order', { backends: clone(status.backends), conditions: clone(status.conditions), backendsAdmitted: '1/2', observedGeneration: 2 }, true],
  ['an extra key whose value is undefined', { ...clone(status), extra: undefined }, true],
  ['another observedGeneration', { ...clone(status), observedGeneration: 3 }, false],
  ['a missing key', (({ observedGeneration: _g, ...rest }) => rest)(clone(status)), false],
  ['an extra key', { ...clone(status), extra: 0 }, false],
  ['a changed nested value', { ...clone(status), conditions: [{ ...status.conditions[0]!, lastTransitionTime: '2026-01-01T00:00:01Z' }] }, false],
  ['backends in another order', { ...clone(status), backends: [...clone(status.backends)].reverse() }, false],
  ['one backend fewer', { ...clone(status), backends: clone(status.backends).slice(0, 1) }, false],
  ['a number where a string was', { ...clone(status), backendsAdmitted: 12 }, false],
  ['null where an object was', { ...clone(status), conditions: null }, false],
];

describe('sameStatus', () => {
  test.each(cases)('%s', (_what, other, same) => {
    expect(sameStatus(status, other)).toBe(same);
    expect(sameStatus(other, status)).toBe(same);
    // The same answer as comparing canonical JSON (what it replaced).
    expect(canonicalJson(status) === canonicalJson(other)).toBe(same);
  });

  test('undefined (a route without status yet) differs from any status', () => {
    expect(sameStatus(status, undefined)).toBe(false);
    expect(sameStatus(undefined, undefined)).toBe(true);
  });
});

describe('policyStatus', () => {
  const T0 = '2026-01-01T00:00:00Z';
  const T1 = '2026-01-01T00:05:00Z';
  const valid: PolicyStatus = { name: 'residency', valid: true, message: 'policy in force', issues: [] };
  const broken: PolicyStatus = { name: 'residency', valid: false, message: 'invalid policy: spec: unknown key allowedRegionz', issues: [] };
  const byType = (s: ReturnType<typeof policyStatus>) => Object.fromEntries(s.conditions.map((c) => [c.type, c]));

  test('a valid policy in force: Ready True (reason Ready) first, then Accepted True, both with observedGeneration', () => {
    const s = policyStatus(valid, 4, [valid], undefined, T0);
    expect(s.observedGeneration).toBe(4);
    expect(s.conditions.map((c) => c.type)).toEqual(['Ready', 'Accepted']);
    expect(byType(s).Ready).toMatchObject({ status: 'True', reason: 'Ready', observedGeneration: 4, lastTransitionTime: T0 });
    expect(byType(s).Ready!.message).toBe(byType(s).Accepted!.message);
    expect(byType(s).Accepted).toMatchObject({ status: 'True', reason: 'Accepted', observedGeneration: 4 });
  });

  test('an invalid policy: Ready False with the reason and message of Accepted (InvalidPolicy)', () => {
    const { Ready, Accepted } = byType(policyStatus(broken, 2, [broken], undefined, T0));
    expect(Accepted).toMatchObject({ status: 'False', reason: 'InvalidPolicy' });
    expect(Ready).toMatchObject({ status: 'False', reason: 'InvalidPolicy', message: Accepted!.message });
    expect(Ready!.message).toContain('allowedRegionz');
  });

  test('a valid policy whose ConfigMap the API server refused: Accepted True, Ready False (ConfigMapRefused) with the refusal', () => {
    const { Ready, Accepted } = byType(policyStatus(valid, 1, [valid], undefined, T0, 'HTTP 422: Too long'));
    expect(Accepted).toMatchObject({ status: 'True', reason: 'Accepted' });
    expect(Ready).toMatchObject({ status: 'False', reason: 'ConfigMapRefused' });
    expect(Ready!.message).toContain('HTTP 422: Too long');
    // Invalid and refused: invalid is what needs fixing first.
    expect(byType(policyStatus(broken, 1, [broken], undefined, T0, 'HTTP 422: Too long')).Ready).toMatchObject({ status: 'False', reason: 'InvalidPolicy' });
  });

  test("Ready's lastTransitionTime moves only when its status flips; an unchanged status compares equal", () => {
    const first = policyStatus(valid, 1, [valid], undefined, T0);
    const again = policyStatus(valid, 1, [valid], first, T1);
    expect(sameStatus(again, first)).toBe(true);
    const broke = policyStatus(broken, 2, [broken], again, T1);
    expect(byType(broke).Ready!.lastTransitionTime).toBe(T1);
    // A status written before Ready existed (Accepted alone) is rewritten with it.
    const old = { observedGeneration: 1, conditions: first.conditions.filter((c) => c.type === 'Accepted') };
    const upgraded = policyStatus(valid, 1, [valid], old, T1);
    expect(sameStatus(upgraded, old)).toBe(false);
    expect(byType(upgraded).Accepted!.lastTransitionTime).toBe(T0);
    expect(byType(upgraded).Ready!.lastTransitionTime).toBe(T1);
  });
});
