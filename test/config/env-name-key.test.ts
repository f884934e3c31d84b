// A key pasted where the name of an environment variable belongs is refused everywhere it could be
// written down (LLMRoute, compiled config, CRD), and the refusal never repeats it: Mistral's and
// Google's keys fit the name syntax, and would otherwise land in the ConfigMap and in every
// "variable not set" message.
import { describe, expect, test } from '@jest/globals';
import { readFileSync } from 'node:fs';
import yaml from 'js-yaml';
import { compile } from '#operator/compile/compile.ts';
import { parseConfigText } from '#proxy/config/parse.ts';
import { ENV_NAME_KEY_CEL, looksLikeApiKey } from '#proxy/config/schema.ts';

// Shaped like real keys, made up here.
const MISTRAL_SHAPED = 'q7Xk2LmN9pRt4VwY8zAb3CdE6fGh1JkM';
const GOOGLE_SHAPED = 'AIzaSyD4x9Kq2Lm7Np3Rt8Vw1Yz5Ab6Cd0Ef2Gh';
const HEX_SHAPED = '3f9a1c7e5b2d8f4a6c0e9b1d7f3a5c8e2b4d6f0a1c3e5b7d9f2a4c6e8b0d1f3a';

describe('looksLikeApiKey', () => {
  const HF_SHAPED = 'hf_' + 'AbCdEfGhIjKlMnOpQrStUvWxYzAbCdEfGh';
  const ONE_CASE_SHAPED = 'k3j9x2m4p8q1w7e5r6t0y2u4i9o3p1a8s7d6';
  test.each([MISTRAL_SHAPED, GOOGLE_SHAPED, HEX_SHAPED, HF_SHAPED, ONE_CASE_SHAPED, `OPENAI_${MISTRAL_SHAPED}`])('%s is a key', (value) => {
    expect(looksLikeApiKey(value)).toBe(true);
  });
  test.each([
    'OPENAI_API_KEY', 'MISTRAL_API_KEY', 'anthropicKey', 'openai_api_key_prod_2024', 'AZURE_OPENAI_API_KEY_SWEDENCENTRAL_2', 'K', 'KEY2', 'DEADBEEF',
    // Realistic names a first version of this check refused (review): judged part by part, they are names.
    'AZURE_OPENAI_KEY_westeurope2', 'OPENAI_API_KEY_gpt4o_prod', 'GOOGLE_APPLICATION_CREDENTIALS_b64', 'ANTHROPIC_API_KEY_team42_prod', 'LLM_KEY_gpt4o_westeurope',
    'hf_token', 'HF_TOKEN',
  ])('%s is a name', (value) => {
    expect(looksLikeApiKey(value)).toBe(false);
  });
});

describe('refused wherever it would be written down', () => {
  test('compile: the backend is invalid, and neither the status nor the config repeats the key', () => {
    const route = {
      apiVersion: 'llmroute.dev/v1alpha1', kind: 'LLMRoute', metadata: { name: 'chat', namespace: 'shop', generation: 1 },
      spec: { models: ['chat'], backends: [{ name: 'mistral', provider: 'mistral', model: 'mistral-large-latest', credentials: { env: MISTRAL_SHAPED } }] },
    };
    const result = compile([route], []);
    expect(result.config.routes).toEqual([]);
    const status = JSON.stringify(result.routes);
    expect(status).toContain('looks like an API key');
    expect(status).not.toContain(MISTRAL_SHAPED);
    expect(JSON.stringify(result.config)).not.toContain(MISTRAL_SHAPED);
  });

  test('the proxy checks only the syntax: a guess must not stop every route of a config it already has', () => {
    const text = [
      'apiVersion: config.llmroute.dev/v1alpha1', 'kind: ProxyConfig', 'routes:', '  - name: shop/chat', '    models: [chat]', '    backends:',
      `      - {name: g, provider: gemini, model: gemini-2.5-flash, credentials: {kind: env, name: ${GOOGLE_SHAPED}}}`,
    ].join('\n');
    expect(parseConfigText(text).ok).toBe(true);
  });

  test('the CRD carries the same test as a CEL rule, so the apiserver refuses it before it is stored', () => {
    type Node = { properties: Record<string, Node>; items: Node; 'x-kubernetes-validations': Array<{ rule: string }> };
    const crd = yaml.load(readFileSync(new URL('../../crds/llmroute.dev_llmroutes.yaml', import.meta.url), 'utf8')) as { spec: { versions: Array<{ schema: { openAPIV3Schema: Node } }> } };
    const credentials = crd.spec.versions[0]!.schema.openAPIV3Schema.properties.spec!.properties.backends!.items.properties.credentials!;
    expect(credentials['x-kubernetes-validations'].map((v) => v.rule)).toContain(ENV_NAME_KEY_CEL);
  });
});
