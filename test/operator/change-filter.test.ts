// Which watch events reach the work queue: the operator's own status and ConfigMap writes coming
// back do not; spec changes, hand edits, adds and deletes do.
import { describe, expect, test } from '@jest/globals';
import { ChangeFilter } from '#operator/reconcile/change-filter.ts';

const route = (generation: number) => ({ metadata: { uid: 'u1', namespace: 'ns', generation } });

describe('ChangeFilter', () => {
  test('a route update that keeps its generation (a status write) is ignored; a spec change is not', () => {
    const filter = new ChangeFilter();
    expect(filter.routeEvent('add', route(1))).toBe(true);
    expect(filter.routeEvent('update', route(1))).toBe(false);
    expect(filter.routeEvent('update', route(2))).toBe(true);
    expect(filter.routeEvent('delete', route(2))).toBe(true);
    expect(filter.routeEvent('update', route(2))).toBe(true); // unknown again after the delete
  });

  test('the ConfigMap the operator just applied is ignored; a hand edit or a deletion is not', () => {
    const filter = new ChangeFilter();
    expect(filter.configMapEvent('add', 'routes: []', 'ns')).toBe(true); // startup: nothing applied yet
    filter.applying('ns', 'routes: [a]');
    expect(filter.configMapEvent('update', 'routes: [a]', 'ns')).toBe(false);
    expect(filter.configMapEvent('update', 'routes: [a, hand-edited]', 'ns')).toBe(true);
    expect(filter.configMapEvent('update', 'routes: [a]', 'other-ns')).toBe(true);
    expect(filter.configMapEvent('update', undefined, 'ns')).toBe(true);
    expect(filter.configMapEvent('delete', 'routes: [a]', 'ns')).toBe(true);
  });

  test('policies go through the same filter: their status write is ignored, a spec change is not', () => {
    const filter = new ChangeFilter();
    const policy = (generation: number) => ({ metadata: { uid: 'p1', namespace: 'ns', generation } });
    expect(filter.routeEvent('add', route(1))).toBe(true);
    expect(filter.routeEvent('add', policy(1))).toBe(true);
    expect(filter.routeEvent('update', policy(1))).toBe(false);
    expect(filter.routeEvent('update', route(1))).toBe(false); // keyed by uid: the two do not mix
    expect(filter.routeEvent('update', policy(2))).toBe(true);
  });
});
