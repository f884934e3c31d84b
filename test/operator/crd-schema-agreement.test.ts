// The CRDs (what kubectl validates) and the zod schemas (what compile() validates) describe the same
// objects; this keeps their fields and enums from drifting apart.
import { describe, expect, test } from '@jest/globals';
import { readFileSync } from 'node:fs';
import yaml from 'js-yaml';
import * as z from '#proxy/config/zod.ts';
import { routeSpecSchema, routeBackendSchema, routeCredentialsSchema } from '#operator/api/llmroute.ts';
import { limitsSchema, policySpecSchema } from '#operator/api/llmpolicy.ts';
import { PROVIDERS, STRATEGIES } from '#proxy/config/schema.ts';

type Schema = { properties?: Record<string, Schema>; items?: Schema; enum?: string[] };

function crdSpec(file: string): Schema {
  const crd = yaml.load(readFileSync(new URL(`../../crds/${file}`, import.meta.url), 'utf8')) as { spec: { versions: Array<{ schema: { openAPIV3Schema: Schema } }> } };
  return crd.spec.versions[0]!.schema.openAPIV3Schema.properties!.spec!;
}

/** Keys of a zod object, looking through refinements and pipes. */
function zodKeys(schema: z.ZodMiniType): string[] {
  const json = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as { properties?: Record<string, unknown> };
  return Object.keys(json.properties ?? {}).sort();
}

const keys = (s: Schema | undefined) => Object.keys(s?.properties ?? {}).sort();

describe('CRD schemas agree with the zod schemas', () => {
  const route = crdSpec('llmroute.dev_llmroutes.yaml');
  const backend = route.properties!.backends!.items!;

  test('LLMRoute spec fields', () => {
    expect(keys(route)).toEqual(zodKeys(routeSpecSchema));
  });
  test('backend fields', () => {
    expect(keys(backend)).toEqual(zodKeys(routeBackendSchema));
  });
  test('pricing fields', () => {
    const pricing = routeBackendSchema.shape.pricing._zod.def.innerType;
    expect(keys(backend.properties!.pricing)).toEqual(zodKeys(pricing));
    expect(keys(route.properties!.pricing)).toEqual(zodKeys(pricing));
  });
  test('credentials fields', () => {
    expect(keys(backend.properties!.credentials)).toEqual(zodKeys(routeCredentialsSchema));
  });
  test('provider and strategy enums', () => {
    expect(backend.properties!.provider!.enum).toEqual([...PROVIDERS]);
    expect(route.properties!.strategy!.enum).toEqual([...STRATEGIES]);
  });
  test('LLMPolicy spec fields and enums', () => {
    const policy = crdSpec('llmroute.dev_llmpolicies.yaml');
    expect(keys(policy)).toEqual(zodKeys(policySpecSchema));
    expect(policy.properties!.allowedProviders!.items!.enum).toEqual([...PROVIDERS]);
    expect(keys(policy.properties!.limits)).toEqual(zodKeys(limitsSchema));
  });
});

describe('CRD schemas agree with the zod schemas: timeouts', () => {
  const route = crdSpec('llmroute.dev_llmroutes.yaml');
  const backend = route.properties!.backends!.items!;
  test('backend timeouts and the route request deadline have the same fields', () => {
    expect(keys(backend.properties!.timeouts)).toEqual(zodKeys(routeBackendSchema.shape.timeouts._zod.def.innerType));
    expect(keys(route.properties!.timeouts)).toEqual(['request']);
    expect(keys(backend.properties!.timeouts)).toEqual(['connect', 'firstToken', 'idle', 'total']);
  });
});
