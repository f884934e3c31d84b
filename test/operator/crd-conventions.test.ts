// What users read from the CRDs through kubectl: `kubectl explain` shows each schema node's
// description, so every node has one; `kubectl get` shows the summary Ready condition and its reason
// the same way for both kinds, which `kubectl wait --for=condition=Ready` reads too.
import { describe, expect, test } from '@jest/globals';
import { readFileSync } from 'node:fs';
import yaml from 'js-yaml';

type Schema = { description?: string; properties?: Record<string, Schema>; items?: Schema };
interface Column { name: string; type: string; jsonPath: string; priority?: number; description?: string }
interface Crd { spec: { versions: Array<{ schema: { openAPIV3Schema: Schema }; additionalPrinterColumns: Column[] }> } }

const load = (file: string) => yaml.load(readFileSync(new URL(`../../crds/${file}`, import.meta.url), 'utf8')) as Crd;
const FILES = ['llmroute.dev_llmroutes.yaml', 'llmroute.dev_llmpolicies.yaml'];

/** Paths of the schema nodes without a description (apiVersion, kind and metadata are described by the API server). */
function undescribed(schema: Schema, path = ''): string[] {
  const own = path !== '' && !schema.description?.trim() ? [path] : [];
  const children = Object.entries(schema.properties ?? {})
    .filter(([key]) => path !== '' || !['apiVersion', 'kind', 'metadata'].includes(key))
    .flatMap(([key, child]) => undescribed(child, `${path}.${key}`));
  return [...own, ...children, ...(schema.items ? undescribed(schema.items, `${path}[]`) : [])];
}

describe('CRD conventions', () => {
  test.each(FILES)('%s: every schema node has a description (kubectl explain)', (file) => {
    const root = load(file).spec.versions[0]!.schema.openAPIV3Schema;
    expect(root.description).toBeTruthy();
    expect(undescribed(root)).toEqual([]);
  });

  test('the walk finds a node without a description', () => {
    expect(undescribed({ description: 'x', properties: { spec: { description: 'y', properties: { a: {}, b: { description: 'z', items: {} } } } } })).toEqual(['.spec.a', '.spec.b[]']);
  });

  test('LLMPolicy printer columns show Ready and its reason as LLMRoute does, message and observedGeneration in -o wide', () => {
    const readyColumns = (file: string) =>
      load(file).spec.versions[0]!.additionalPrinterColumns.filter((c) => c.name === 'Ready' || c.jsonPath.includes('conditions') || c.jsonPath === '.status.observedGeneration');
    const policy = readyColumns('llmroute.dev_llmpolicies.yaml');
    expect(policy).toEqual(readyColumns('llmroute.dev_llmroutes.yaml'));
    expect(policy).toEqual([
      { name: 'Ready', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].status' },
      { name: 'Reason', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].reason' },
      { name: 'Message', type: 'string', priority: 1, jsonPath: '.status.conditions[?(@.type=="Ready")].message' },
      { name: 'Observed', type: 'integer', priority: 1, jsonPath: '.status.observedGeneration' },
    ]);
  });
});
