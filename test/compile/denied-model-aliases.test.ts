// deniedModels judges every name the upstream is called with: an Azure deployment is its own name
// (the URL of the dated API, the body's model in v1), so it cannot alias a denied model.
import { describe, expect, test } from '@jest/globals';
import { compile } from '#operator/compile/compile.ts';

const meta = (name: string) => ({ name, namespace: 'shop', generation: 1 });
const azure = (model: string, deployment?: string) => ({
  name: 'az', provider: 'azure-openai', model, baseURL: 'https://shop.openai.azure.com', region: 'swedencentral', credentials: { env: 'AZ_KEY' },
  options: { deploymentType: 'standard', ...(deployment ? { deployment } : {}) },
});
const route = (backend: unknown) => ({ apiVersion: 'llmroute.dev/v1alpha1', kind: 'LLMRoute', metadata: meta('chat'), spec: { models: ['chat'], backends: [backend] } });
const policy = { apiVersion: 'llmroute.dev/v1alpha1', kind: 'LLMPolicy', metadata: meta('models'), spec: { deniedModels: ['gpt-4o'] } };

describe('deniedModels and Azure deployments', () => {
  test('a deployment named as a denied model is denied, whatever model it declares', () => {
    const result = compile([route(azure('gpt-4o-mini', 'gpt-4o'))], [policy]);
    expect(result.config.routes).toHaveLength(0);
    expect(result.routes[0]!.backends[0]!.message).toContain('options.deployment gpt-4o matches deniedModels entry gpt-4o');
  });

  test('an allowed model under an allowed deployment name is admitted', () => {
    expect(compile([route(azure('gpt-4o-mini', 'prod-mini'))], [policy]).config.routes[0]!.backends).toHaveLength(1);
    expect(compile([route(azure('gpt-4o-mini'))], [policy]).config.routes[0]!.backends).toHaveLength(1);
  });
});
