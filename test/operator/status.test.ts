// Route status equality: what decides whether a status is written again.
import { describe, expect, test } from '@jest/globals';
import { sameStatus } from '#operator/reconcile/status.ts';
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
