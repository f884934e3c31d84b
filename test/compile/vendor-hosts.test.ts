// Policy judges the vendor and region a backend's baseURL really reaches, not only the provider it
// declares: vendors serve each other's wire formats, so `provider: anthropic` may send prompts to
// DeepSeek, and `openai-compatible` to the Gemini Developer API (which processes data anywhere).
import { describe, expect, test } from '@jest/globals';
import { compile } from '#operator/compile/compile.ts';
import { hostFacts, hostOf } from '#proxy/policy/vendor-hosts.ts';
import { startWith } from '#test/proxy/harness.ts';

const meta = (name: string) => ({ name, namespace: 'shop', generation: 1 });
const backend = (name: string, provider: string, baseURL: string, region = 'eu-west') => ({ name, provider, model: 'm', baseURL, region, credentials: { env: 'KEY' } });
const route = (...backends: unknown[]) => ({ apiVersion: 'llmroute.dev/v1alpha1', kind: 'LLMRoute', metadata: meta('chat'), spec: { models: ['chat'], backends } });
const policy = (spec: Record<string, unknown>) => ({ apiVersion: 'llmroute.dev/v1alpha1', kind: 'LLMPolicy', metadata: meta('residency'), spec });

function judge(spec: Record<string, unknown>, ...backends: unknown[]) {
  const result = compile([route(...backends)], [policy(spec)]);
  return {
    admitted: result.config.routes[0]?.backends.map((b) => b.name) ?? [],
    message: (name: string) => result.routes[0]!.backends.find((b) => b.name === name)?.message,
  };
}

describe('allowedProviders judges the vendor behind the host', () => {
  test("an anthropic backend pointed at DeepSeek's Anthropic-compatible API is DeepSeek's", () => {
    const result = judge({ allowedProviders: ['anthropic'] }, backend('deepseek-as-anthropic', 'anthropic', 'https://api.deepseek.com/anthropic'), backend('claude', 'anthropic', 'https://api.anthropic.com'));
    expect(result.admitted).toEqual(['claude']);
    expect(result.message('deepseek-as-anthropic')).toBe("baseURL host api.deepseek.com is deepseek's, and allowedProviders [anthropic] does not list deepseek");
  });

  test('openai-compatible allowed for self-hosted models does not let in a vendor API speaking that format', () => {
    const result = judge(
      { allowedProviders: ['openai-compatible'] },
      backend('vllm', 'openai-compatible', 'http://vllm.models.svc:8000/v1'),
      backend('openai', 'openai-compatible', 'https://api.openai.com/v1'),
      backend('qwen', 'openai-compatible', 'https://dashscope-intl.aliyuncs.com/compatible-mode/v1'),
      backend('gemini', 'openai-compatible', 'https://generativelanguage.googleapis.com/v1beta/openai'),
    );
    expect(result.admitted).toEqual(['vllm']);
    expect(result.message('openai')).toContain('does not list openai');
    expect(result.message('qwen')).toContain('does not list qwen');
    expect(result.message('gemini')).toContain('does not list gemini');
  });

  test('listing the vendor admits it; the declared provider must be listed as well', () => {
    const deepseek = backend('d', 'anthropic', 'https://api.deepseek.com/anthropic');
    expect(judge({ allowedProviders: ['anthropic', 'deepseek'] }, deepseek).admitted).toEqual(['d']);
    expect(judge({ allowedProviders: ['deepseek'] }, deepseek).message('d')).toBe('provider anthropic not in allowedProviders [deepseek]');
  });

  test('the host is read as DNS reads it: case does not hide it, a lookalike is not it', () => {
    expect(judge({ allowedProviders: ['anthropic'] }, backend('d', 'anthropic', 'https://API.DeepSeek.COM/anthropic')).message('d')).toContain('api.deepseek.com is deepseek');
    // A trailing dot (the same host to DNS) is no way around it either: such a baseURL is refused.
    expect(hostOf('https://api.deepseek.com./x')).toBe('api.deepseek.com');
    expect(JSON.stringify(compile([route(backend('d', 'anthropic', 'https://api.deepseek.com./anthropic'))], []).routes[0]!.issues)).toContain('must be http(s)://host');
    for (const lookalike of ['https://api.deepseek.com.example.net/anthropic', 'https://notdeepseek.com/anthropic', 'https://deepseek.com-proxy.internal/anthropic']) {
      expect(judge({ allowedProviders: ['anthropic'] }, backend('d', 'anthropic', lookalike)).admitted).toEqual(['d']);
    }
  });

  test('an Azure endpoint is azure-openai, not openai', () => {
    const result = judge({ allowedProviders: ['openai'] }, backend('az', 'openai', 'https://shop.openai.azure.com/openai/v1'));
    expect(result.message('az')).toContain('baseURL host shop.openai.azure.com is azure-openai');
  });
});

describe('allowedRegions judges the host where the host decides the region', () => {
  test("Gemini's OpenAI-compatible endpoint declared eu-west is the Gemini Developer API: any region", () => {
    const result = judge({ allowedRegions: ['eu-west'] }, backend('g', 'openai-compatible', 'https://generativelanguage.googleapis.com/v1beta/openai'));
    expect(result.admitted).toEqual([]);
    expect(result.message('g')).toBe('generativelanguage.googleapis.com is the Gemini Developer API, which processes data in any region, and allowedRegions [eu-west] does not list global');
  });

  test("Vertex AI's OpenAI-compatible endpoint is judged by the location in its host", () => {
    const vertex = (location: string) => backend(location, 'openai-compatible', `https://${location}-aiplatform.googleapis.com/v1/projects/p/locations/${location}/endpoints/openapi`, 'europe-west4');
    const result = judge({ allowedRegions: ['europe-west4'] }, vertex('europe-west4'), vertex('us-central1'));
    expect(result.admitted).toEqual(['europe-west4']);
    expect(result.message('us-central1')).toBe('us-central1-aiplatform.googleapis.com is Vertex AI in us-central1, where data is processed, and allowedRegions [europe-west4] does not list us-central1');
    expect(judge({ allowedRegions: ['eu'] }, backend('rep', 'openai-compatible', 'https://aiplatform.eu.rep.googleapis.com/v1', 'eu')).admitted).toEqual(['rep']);
  });

  test('a gemini backend whose baseURL and vertex location disagree must be allowed in both', () => {
    const split = { ...backend('split', 'gemini', 'https://us-central1-aiplatform.googleapis.com', 'europe-west4'), options: { vertex: { project: 'shop-prod-1234', location: 'europe-west4' } } };
    const result = judge({ allowedRegions: ['europe-west4'] }, split);
    expect(result.admitted).toEqual([]);
    expect(result.message('split')).toContain('does not list us-central1');
  });

  test('a Google host of unknown region is denied under allowedRegions; hosts no vendor is known to run keep their declared region', () => {
    expect(judge({ allowedRegions: ['eu-west'] }, backend('g', 'openai-compatible', 'https://llm.googleapis.com/v1')).message('g')).toContain('processing region is not known');
    expect(judge({ allowedRegions: ['eu-west'] }, backend('own', 'openai-compatible', 'http://10.0.0.7:8000/v1')).admitted).toEqual(['own']);
  });
});

describe("OpenAI's and Anthropic's own APIs are judged by where they process data", () => {
  test("OpenAI's global endpoint is global whatever the backend declares; its us and eu endpoints are their region", () => {
    const openai = (name: string, url: string, region: string) => backend(name, 'openai', url, region);
    const result = judge(
      { allowedRegions: ['eu'] },
      openai('global', 'https://api.openai.com/v1', 'eu'),
      openai('eu', 'https://eu.api.openai.com/v1', 'eu'),
      openai('us', 'https://us.api.openai.com/v1', 'eu'),
      openai('jp', 'https://jp.api.openai.com/v1', 'eu'),
    );
    expect(result.admitted).toEqual(['eu']);
    expect(result.message('global')).toBe("api.openai.com is OpenAI's global endpoint, which processes data in any region (us.api.openai.com and eu.api.openai.com process in-region), and allowedRegions [eu] does not list global");
    expect(result.message('us')).toContain('does not list us');
    expect(result.message('jp')).toContain('not known here; allowedRegions is [eu]');
    expect(judge({ allowedRegions: ['global'] }, openai('g', 'https://api.openai.com/v1', 'us-east')).admitted).toEqual(['g']);
  });

  test('an openai backend without a baseURL is judged by the default host it calls', () => {
    const result = compile([route({ name: 'o', provider: 'openai', model: 'm', region: 'us', credentials: { env: 'KEY' } })], [policy({ allowedRegions: ['us'] })]);
    expect(result.config.routes[0]?.backends ?? []).toEqual([]);
    expect(result.routes[0]!.backends[0]!.message).toContain("api.openai.com is OpenAI's global endpoint");
  });

  test("an anthropic backend is judged by options.inferenceGeo on Anthropic's API, global without it", () => {
    const claude = (name: string, options?: Record<string, unknown>, baseURL = 'https://api.anthropic.com') => ({ ...backend(name, 'anthropic', baseURL, 'us'), ...(options ? { options } : {}) });
    const result = judge({ allowedRegions: ['us'] }, claude('pinned', { inferenceGeo: 'us' }), claude('unpinned'), claude('global', { inferenceGeo: 'global' }), claude('default-host', undefined, undefined as unknown as string));
    expect(result.admitted).toEqual(['pinned']);
    expect(result.message('unpinned')).toBe("api.anthropic.com is Anthropic's API, which runs inference in any geography unless options.inferenceGeo pins it, and allowedRegions [us] does not list global");
    expect(result.message('global')).toBe('options.inferenceGeo global is where Anthropic runs inference, and allowedRegions [us] does not list global');
    expect(result.message('default-host')).toContain('api.anthropic.com is Anthropic');
    // The geography is what counts on Anthropic's API, not the declared region.
    expect(judge({ allowedRegions: ['us'] }, { ...claude('c', { inferenceGeo: 'us' }), region: 'eu-west' }).admitted).toEqual(['c']);
  });

  test("Anthropic's API under another provider cannot be pinned: global", () => {
    const result = judge({ allowedRegions: ['us'] }, backend('compat', 'openai-compatible', 'https://api.anthropic.com/v1', 'us'));
    expect(result.message('compat')).toContain('unless a request sets inference_geo');
  });

  test('inferenceGeo only counts on Anthropic\'s own hosts: elsewhere the host or the declared region decides', () => {
    const deepseek = { ...backend('d', 'anthropic', 'https://api.deepseek.com/anthropic', 'us'), options: { inferenceGeo: 'us' } };
    expect(judge({ allowedRegions: ['us'] }, deepseek).message('d')).toContain('mainland China (cn)');
    const egress = { ...backend('e', 'anthropic', 'https://llm-egress.corp.internal', 'us'), options: { inferenceGeo: 'us' } };
    expect(judge({ allowedRegions: ['us'] }, egress).admitted).toEqual(['e']);
  });

  test('an inferenceGeo that is not a geography name is a compile error', () => {
    const bad = { ...backend('c', 'anthropic', 'https://api.anthropic.com', 'us'), options: { inferenceGeo: 'US East' } };
    expect(JSON.stringify(compile([route(bad)], []).routes[0]!.issues)).toContain('a lower-case geography name');
  });
});

describe('the host table', () => {
  test.each([
    ['https://api.openai.com/v1', 'openai'],
    ['https://eu.api.openai.com/v1', 'openai'],
    ['https://api.anthropic.com', 'anthropic'],
    ['https://api.mistral.ai/v1', 'mistral'],
    ['https://api.deepseek.com', 'deepseek'],
    ['https://dashscope.aliyuncs.com/compatible-mode/v1', 'qwen'],
    ['https://shop.cognitiveservices.azure.com', 'azure-openai'],
    ['https://shop.services.ai.azure.com', 'azure-openai'],
    ['https://aiplatform.googleapis.com', 'gemini'],
  ])('%s is run by %s', (url, vendor) => {
    expect(hostFacts(hostOf(url)!)?.vendor).toBe(vendor);
  });

  test.each(['http://localhost:11434/v1', 'https://oss.aliyuncs.com', 'https://openai.azure.com.example.net', 'https://api.example.com'])('%s is no known vendor', (url) => {
    expect(hostFacts(hostOf(url)!)).toBeUndefined();
  });
});

describe('at run time', () => {
  test('the proxy denies a backend whose host breaks the policy, before any connection', async () => {
    const denied = { name: 'd', provider: 'anthropic' as const, model: 'm', baseURL: 'https://api.deepseek.com/anthropic', credentials: { kind: 'none' as const } };
    const s = await startWith([{ name: 'shop/chat', models: ['chat'], backends: [denied] }], { extra: { policy: { allowedProviders: ['anthropic'], requireZeroDataRetention: false, logPrompts: false } } });
    try {
      const error = await s.client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e as { status?: number; code?: string; message?: string });
      expect(error).toMatchObject({ status: 403, code: 'denied_by_policy' });
    } finally {
      await s.close();
    }
  });
});

describe('review findings', () => {
  test('a Vertex host is judged even when the declared region is the host\'s and the location names an allowed one', () => {
    const split = { ...backend('split', 'gemini', 'https://us-central1-aiplatform.googleapis.com', 'us-central1'), options: { vertex: { project: 'shop-prod-1234', location: 'europe-west4' } } };
    const result = judge({ allowedRegions: ['europe-west4'] }, split);
    expect(result.admitted).toEqual([]);
    expect(result.message('split')).toContain('does not list us-central1');
  });

  test.each(['https://x.openai.azure.us', 'https://x.openai.azure.cn', 'https://x.eastus2.models.ai.azure.com', 'https://models.inference.ai.azure.com', 'https://westeurope.api.cognitive.microsoft.com', 'https://x.cognitiveservices.azure.us'])(
    '%s is Azure: under another provider its region cannot be known',
    (url) => {
      const result = judge({ allowedRegions: ['eu-west'] }, backend('az', 'openai-compatible', url));
      expect(result.admitted).toEqual([]);
      expect(result.message('az')).toContain('is an Azure OpenAI endpoint');
    },
  );

  test('DeepSeek and DashScope\'s Beijing endpoint process data in mainland China (cn), whatever is declared', () => {
    expect(judge({ allowedRegions: ['eu-west'] }, backend('d', 'deepseek', 'https://api.deepseek.com')).message('d')).toContain('does not list cn');
    expect(judge({ allowedRegions: ['eu-west'] }, { name: 'q', provider: 'qwen', model: 'qwen-max', baseURL: 'https://dashscope.aliyuncs.com/compatible-mode/v1', region: 'eu-west', credentials: { env: 'KEY' } }).message('q')).toContain('does not list cn');
    // Its default endpoint too: the compiler judges the URL the sidecar will call.
    expect(judge({ allowedRegions: ['eu-west'] }, { name: 'd2', provider: 'deepseek', model: 'deepseek-chat', region: 'eu-west', credentials: { env: 'KEY' } }).admitted).toEqual([]);
    expect(judge({ allowedRegions: ['cn'] }, { name: 'd3', provider: 'deepseek', model: 'deepseek-chat', region: 'cn', credentials: { env: 'KEY' } }).admitted).toEqual(['d3']);
  });
});
