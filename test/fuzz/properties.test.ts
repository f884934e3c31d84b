// Property-based fuzzing (fast-check) of the parsers that read untrusted bytes: the SSE reader under
// every stream, the stream translators of each provider family, the request checker and the policy
// decision. Each property runs thousands of generated inputs; a failure prints the smallest input
// that breaks it (and its seed, to replay).
import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { Readable } from 'node:stream';
import { sseSource } from '#proxy/upstream/sse.ts';
import type { BackendTarget, SseEvent, StreamOutput } from '#proxy/providers/adapter.ts';
import { adapterFor } from '#proxy/providers/registry.ts';
import { checkChatRequest, checkEmbeddingsRequest } from '#proxy/http/body.ts';
import { ProxyError } from '#proxy/http/errors.ts';
import { admitBackend, hostVendor, policyViolations, processingRegions } from '#proxy/policy/admit.ts';
import { hostMatches } from '#proxy/policy/host-patterns.ts';
import { compile } from '#operator/compile/compile.ts';
import { dumpStampedConfig, parseConfigText } from '#proxy/config/parse.ts';

const RUNS = Number(process.env.FUZZ_RUNS ?? 2000);

// ---------------------------------------------------------------------------------------------
// SSE: whatever the network chunking and line endings, the events read are the events sent.

/** One line of event data: any Unicode text without line breaks (well-formed: it travels as UTF-8). */
const dataLine = fc.string({ unit: 'binary', maxLength: 40 }).filter((s) => !/[\r\n]/.test(s) && Buffer.from(s, 'utf8').toString('utf8') === s);
const sseEvent = fc.record(
  {
    event: fc.stringMatching(/^[a-z_]{1,12}$/),
    // Multi-line data travels as several `data:` lines and is joined with \n.
    data: fc.array(dataLine, { minLength: 1, maxLength: 3 }).map((lines) => lines.join('\n')),
  },
  { requiredKeys: ['data'] },
);

function encode(events: Array<{ event?: string; data: string }>, newline: string, lastBlankLine: boolean): Uint8Array {
  const text = events
    .map((e, i) => {
      const fields = `${e.event ? `event: ${e.event}${newline}` : ''}${e.data.split('\n').map((line) => `data: ${line}${newline}`).join('')}`;
      return i === events.length - 1 && !lastBlankLine ? fields.slice(0, -newline.length) : fields + newline;
    })
    .join('');
  return new TextEncoder().encode(text);
}

/** Cuts bytes at the given positions (anywhere: inside a line ending or a multi-byte character). */
function chunked(bytes: Uint8Array, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let from = 0;
  for (const at of [...points, bytes.length]) {
    if (at > from) chunks.push(Buffer.from(bytes.subarray(from, at)));
    from = Math.max(from, at);
  }
  return chunks;
}

async function readAll(chunks: Buffer[]): Promise<SseEvent[]> {
  const events: SseEvent[] = [];
  const source = sseSource(Readable.from(chunks));
  for (let batch = await source.next(); batch !== undefined; batch = await source.next()) events.push(...batch);
  return events;
}

describe('fuzz: SSE reader', () => {
  test('events survive any chunking, \\n or \\r\\n endings, and a missing last blank line', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(sseEvent, { minLength: 1, maxLength: 8 }),
        fc.constantFrom('\n', '\r\n'),
        fc.boolean(),
        fc.array(fc.nat(), { maxLength: 12 }),
        async (events, newline, lastBlankLine, cuts) => {
          const read = await readAll(chunked(encode(events, newline, lastBlankLine), cuts));
          expect(read).toEqual(events.map((e) => (e.event ? { event: e.event, data: e.data } : { data: e.data })));
        },
      ),
      { numRuns: RUNS },
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Stream translators: any event sequence gives outputs, never an exception, and nothing after the end.

const target = { config: { name: 'b', provider: 'openai', model: 'm' }, baseURL: 'https://x', options: {}, apiKey: undefined } as unknown as BackendTarget;

/** A field's value of any type: the usual wrong types first, then arbitrary JSON. */
const anything = fc.oneof({ arbitrary: fc.constantFrom(null, 0, -1, 1.5, '', 'x', true, [], {}), weight: 3 }, { arbitrary: fc.jsonValue({ maxDepth: 2 }), weight: 1 });
const maybe = <T>(arb: fc.Arbitrary<T>) => fc.oneof(arb, anything);
/** Provider-shaped events whose fields hold anything: where translators read, wrong types must not crash them. */
const openaiShaped = fc.record(
  { id: anything, model: anything, usage: anything, choices: maybe(fc.array(maybe(fc.record({ index: anything, delta: maybe(fc.record({ content: anything, role: anything, tool_calls: maybe(fc.array(anything, { maxLength: 2 })), reasoning_content: anything }, { requiredKeys: [] })), finish_reason: anything }, { requiredKeys: [] })), { maxLength: 2 })) },
  { requiredKeys: ['choices'] },
);
const anthropicShaped = fc.record(
  {
    type: fc.constantFrom('message_start', 'content_block_start', 'content_block_delta', 'content_block_stop', 'message_delta', 'message_stop', 'ping'),
    index: anything,
    message: maybe(fc.record({ id: anything, model: anything, usage: anything }, { requiredKeys: [] })),
    content_block: maybe(fc.record({ type: fc.constantFrom('text', 'tool_use', 'thinking'), id: anything, name: anything, text: anything }, { requiredKeys: [] })),
    delta: maybe(fc.record({ type: fc.constantFrom('text_delta', 'input_json_delta', 'thinking_delta'), text: anything, partial_json: anything, stop_reason: anything }, { requiredKeys: [] })),
    usage: anything,
  },
  { requiredKeys: ['type'] },
);
const geminiShaped = fc.record(
  {
    candidates: maybe(fc.array(maybe(fc.record({ content: maybe(fc.record({ parts: maybe(fc.array(maybe(fc.record({ text: anything, thought: anything, functionCall: anything, thoughtSignature: anything }, { requiredKeys: [] })), { maxLength: 3 })) }, { requiredKeys: [] })), finishReason: anything }, { requiredKeys: [] })), { maxLength: 2 })),
    usageMetadata: anything,
    promptFeedback: anything,
    responseId: anything,
    modelVersion: anything,
  },
  { requiredKeys: ['candidates'] },
);

/** Upstream events: provider-shaped JSON with wrong field types, arbitrary JSON, or junk. */
const upstreamEvent = fc.oneof(
  fc.oneof(openaiShaped, anthropicShaped, geminiShaped).map((v) => ({ data: JSON.stringify(v) })),
  fc.record({ data: fc.jsonValue().map((v) => JSON.stringify(v)) }),
  fc.record({ event: fc.constantFrom('message_start', 'content_block_start', 'content_block_delta', 'message_delta', 'message_stop', 'error', 'ping'), data: fc.jsonValue().map((v) => JSON.stringify(v)) }),
  fc.record({ data: fc.constantFrom('[DONE]', '', ' ', '{', 'null', '[]', '{"choices":null}', '{"choices":[{"index":"x","delta":null}]}', '{"candidates":[{"content":{"parts":[{"text":1}]}}]}') }),
  fc.record({ data: fc.string({ maxLength: 30 }) }),
);

describe('fuzz: stream translators', () => {
  for (const provider of ['openai', 'anthropic', 'gemini'] as const) {
    test(`${provider}: push() and end() never throw, and nothing follows the terminal output`, () => {
      const adapter = adapterFor(provider)!;
      fc.assert(
        fc.property(fc.array(upstreamEvent, { maxLength: 12 }), fc.boolean(), (events, clientWantsUsage) => {
          const translator = adapter.createStreamTranslator(target, { clientWantsUsage, clientModel: 'client-model' });
          const outputs: StreamOutput[] = [];
          for (const event of events) outputs.push(...translator.push(event));
          outputs.push(...translator.end());
          const terminal = outputs.findIndex((o) => o.kind !== 'chunk');
          expect(terminal === -1 ? outputs.length : terminal).toBeGreaterThanOrEqual(outputs.length - 1);
          for (const output of outputs) if (output.kind === 'chunk') expect(() => JSON.parse(output.json)).not.toThrow();
          translator.usage();
          translator.summary();
        }),
        { numRuns: RUNS },
      );
    });
  }
});

// ---------------------------------------------------------------------------------------------
// Request checker: any JSON body is either a request or a ProxyError (a 4xx), never a crash.

const validChat = { model: 'chat', messages: [{ role: 'user', content: 'hi' }] };
/** A valid request with one field replaced by an arbitrary JSON value (deep, wrong types, nulls). */
const mutatedChat = fc
  .record({ key: fc.constantFrom('model', 'messages', 'stream', 'stream_options', 'tools', 'tool_choice', 'max_tokens', 'temperature', 'n', 'response_format', 'store', 'user'), value: fc.jsonValue() })
  .map(({ key, value }) => ({ ...validChat, [key]: value }));
const mutatedMessage = fc.jsonValue().map((message) => ({ ...validChat, messages: [message] }));

function accepts(check: (body: unknown) => unknown, body: unknown): void {
  try {
    check(body);
  } catch (err) {
    expect(err).toBeInstanceOf(ProxyError);
    expect((err as ProxyError).status).toBeGreaterThanOrEqual(400);
    expect((err as ProxyError).status).toBeLessThan(500);
  }
}

describe('fuzz: request checker', () => {
  test('chat: any JSON body is a request or a 4xx ProxyError', () => {
    fc.assert(fc.property(fc.oneof(fc.jsonValue(), mutatedChat, mutatedMessage), (body) => accepts(checkChatRequest, body)), { numRuns: RUNS * 2 });
  });

  test('embeddings: any JSON body is a request or a 4xx ProxyError', () => {
    fc.assert(
      fc.property(fc.oneof(fc.jsonValue(), fc.jsonValue().map((input) => ({ model: 'e', input }))), (body) => accepts(checkEmbeddingsRequest, body)),
      { numRuns: RUNS },
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Policy: admitted exactly when no rule is broken, and every rule checked on the backend's own facts.

const region = fc.constantFrom('eu-west', 'eu-central', 'us-east', 'global', '');
/** Vendors' own hosts (judged as that vendor, whatever the provider), and hosts no vendor is known to run. */
const baseURL = fc.constantFrom(
  'https://api.openai.com/v1', 'https://api.deepseek.com/anthropic', 'https://generativelanguage.googleapis.com/v1beta/openai', 'https://europe-west4-aiplatform.googleapis.com',
  'https://shop.openai.azure.com', 'https://API.Mistral.AI./v1', 'http://vllm.models.svc:8000/v1', 'https://openai.com.example.net/v1',
);
const backendFacts = fc.record(
  { provider: fc.constantFrom('openai', 'mistral', 'anthropic', 'gemini', 'azure-openai', 'openai-compatible'), model: fc.constantFrom('gpt-4o', 'o1-mini', 'claude-sonnet-4-5', 'mistral-large-latest'), region, dataRetention: fc.constantFrom('zero', 'standard'), baseURL },
  { requiredKeys: ['provider', 'model'] },
);
const policy = fc.record(
  {
    allowedRegions: fc.array(region, { maxLength: 3 }),
    allowedProviders: fc.array(fc.constantFrom('openai', 'mistral', 'anthropic', 'gemini'), { maxLength: 3 }),
    allowedHosts: fc.array(fc.constantFrom('api.openai.com', '*.openai.com', '*.googleapis.com', 'vllm.models.svc', '*.azure.com'), { maxLength: 3 }),
    deniedModels: fc.array(fc.constantFrom('gpt-4o', 'o1*', '*', 'claude-*'), { maxLength: 2 }),
    requireZeroDataRetention: fc.boolean(),
    logPrompts: fc.boolean(),
  },
  { requiredKeys: ['requireZeroDataRetention', 'logPrompts'] },
);

describe('fuzz: policy decision', () => {
  test('admitted iff no violation; each rule that is broken is named', () => {
    fc.assert(
      fc.property(backendFacts, policy, (backend, p) => {
        const violations = policyViolations(backend as never, p as never);
        expect(admitBackend(backend as never, p as never).admitted).toBe(violations.length === 0);
        // Judged by where data is processed: the declared region unless the backend's settings say more.
        const processing = processingRegions(backend as never);
        const regions: Array<string | undefined> = processing.length > 0 ? processing.map((r) => r.region) : [backend.region];
        if (p.allowedRegions && !regions.every((r) => r !== undefined && (p.allowedRegions as string[]).includes(r))) expect(violations.join()).toMatch(/region/i);
        if (p.allowedProviders && !(p.allowedProviders as string[]).includes(backend.provider)) expect(violations.join()).toMatch(/provider/);
        if (p.allowedHosts && backend.baseURL !== undefined && !p.allowedHosts.some((h) => hostMatches(new URL(backend.baseURL!).hostname.toLowerCase(), h))) expect(violations.join()).toContain('allowedHosts');
        // The vendor a known host belongs to must be allowed too, whatever provider is declared.
        const vendor = hostVendor(backend as never)?.vendor;
        if (p.allowedProviders && vendor !== undefined && !(p.allowedProviders as string[]).includes(vendor)) expect(violations.join()).toContain(`does not list ${vendor}`);
        if (p.requireZeroDataRetention && backend.dataRetention !== 'zero') expect(violations.join()).toMatch(/dataRetention/);
      }),
      { numRuns: RUNS },
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Compile: whatever a user writes in LLMRoutes and LLMPolicies, compile never throws, and the config it
// emits is one the proxy loads (a route it cannot express is left out with its reason instead).

/** A valid duration, within every bound. */
const durationText = fc.oneof(
  fc.constantFrom('1ms', '250ms', '2s', '90s', '1m30s', '5m', '1.5s'),
  fc.tuple(fc.integer({ min: 1, max: 59 }), fc.constantFrom('ms', 's', 'm')).map(([n, unit]) => `${n}${unit}`),
);
const backendSpec = fc.record(
  {
    provider: fc.constantFrom('openai', 'azure-openai', 'mistral', 'deepseek', 'qwen', 'openai-compatible', 'anthropic', 'gemini', 'echo'),
    model: fc.constantFrom('gpt-4o', 'claude-sonnet-4-5', 'gemini-2.5-flash', 'mistral-large-latest', 'llama-3.1-8b'),
    baseURL: fc.constantFrom('https://api.example.com/v1', 'http://127.0.0.1:8000/v1', 'https://eu.example.com/openai'),
    region: fc.constantFrom('eu-west', 'us-east', 'global'),
    dataRetention: fc.constantFrom('zero', 'standard'),
    credentials: fc.constantFrom({ none: true }, { env: 'KEY' }, { secretRef: { name: 'k', key: 'apiKey' } }),
    weight: fc.integer({ min: 0, max: 1_000_000 }),
    timeouts: fc.record({ connect: durationText, firstToken: durationText, idle: durationText, total: durationText }, { requiredKeys: [] }),
    pricing: fc.record({ input: fc.double({ min: 0, max: 1e4, noNaN: true }), output: fc.double({ min: 0, max: 1e4, noNaN: true }) }, { requiredKeys: [] }),
    vertex: fc.constantFrom('global', 'europe-west4', 'us-central1'),
  },
  { requiredKeys: ['provider', 'model', 'baseURL'] },
).map(({ vertex, ...b }) => ({
  ...b,
  // Provider settings only where the provider has them.
  ...(b.provider === 'gemini' && vertex ? { options: { vertex: { project: 'shop-prod-1234', location: vertex } } } : {}),
  ...(b.provider === 'azure-openai' ? { options: { apiVersion: '2024-10-21', deployment: 'gpt4o' } } : {}),
}));
const routeSpec = fc.record(
  {
    // From a wide set: two routes claiming one model (a ModelConflict) stays possible, not the rule.
    models: fc.uniqueArray(fc.constantFrom(...Array.from({ length: 30 }, (_, i) => `m${i}`)), { minLength: 1, maxLength: 3 }),
    strategy: fc.constantFrom('failover', 'weighted'),
    backends: fc.array(backendSpec, { minLength: 1, maxLength: 3 }).map((bs) => bs.map((b, i) => ({ name: `b${i}`, ...b }))),
    retries: fc.record(
      {
        attempts: fc.integer({ min: 0, max: 10 }),
        backoff: fc.tuple(fc.integer({ min: 1, max: 59 }), fc.constantFrom('ms', 's')).map(([n, unit]) => `${n}${unit}`),
        maxBackoff: fc.tuple(fc.integer({ min: 1, max: 5 }), fc.constantFrom('s', 'm')).map(([n, unit]) => `${n}${unit}`),
      },
      { requiredKeys: [] },
    ),
    timeouts: fc.record({ request: durationText }, { requiredKeys: [] }),
  },
  { requiredKeys: ['models', 'backends'] },
);
/** Now and then one field of a valid route replaced by something else: invalid, or valid in an unusual way. */
const mutation = fc.record({
  path: fc.constantFrom<Array<string | number>>(['models'], ['strategy'], ['retries', 'backoff'], ['retries', 'maxBackoff'], ['timeouts', 'request'], ['backends', 0, 'name'], ['backends', 0, 'baseURL'], ['backends', 0, 'weight'], ['backends', 0, 'timeouts'], ['backends', 0, 'options'], ['backends', 0, 'credentials'], ['backends', 0, 'pricing']),
  value: fc.oneof(anything, fc.constantFrom('25h', '0s', '10m', '2m', 'https://u:p@h/v1', 'https://evil#.x', -1, 2_000_000, { unknown: 1 }, { env: 'KEY', none: true })),
});
function mutated(spec: Record<string, unknown>, m: { path: Array<string | number>; value: unknown } | undefined): Record<string, unknown> {
  if (!m) return spec;
  const copy = structuredClone(spec);
  let at: Record<string | number, unknown> = copy;
  for (const key of m.path.slice(0, -1)) {
    if (typeof at[key] !== 'object' || at[key] === null) at[key] = {};
    at = at[key] as Record<string | number, unknown>;
  }
  at[m.path.at(-1)!] = m.value;
  return copy;
}
const route = fc
  .tuple(routeSpec, fc.oneof({ arbitrary: fc.constant(undefined), weight: 3 }, { arbitrary: mutation, weight: 1 }))
  .map(([spec, m]) => mutated(spec as Record<string, unknown>, m));
const policySpec = fc.record(
  { allowedRegions: fc.array(region, { maxLength: 2 }), requireZeroDataRetention: fc.boolean(), logPrompts: fc.constantFrom('never', 'allowed'), deniedModels: fc.array(fc.constantFrom('gpt-4o', 'claude-*'), { maxLength: 1 }) },
  { requiredKeys: [] },
);

describe('fuzz: compile', () => {
  test('any LLMRoutes and LLMPolicy compile without throwing, into a config the proxy loads', () => {
    fc.assert(
      fc.property(fc.array(route, { minLength: 1, maxLength: 3 }), fc.option(policySpec, { nil: undefined }), (specs, policySpecValue) => {
        const routes = specs.map((spec, i) => ({ apiVersion: 'llmroute.dev/v1alpha1', kind: 'LLMRoute', metadata: { name: `r${i}`, namespace: 'shop', generation: 1 }, spec }));
        const policies = policySpecValue ? [{ apiVersion: 'llmroute.dev/v1alpha1', kind: 'LLMPolicy', metadata: { name: 'p', namespace: 'shop', generation: 1 }, spec: policySpecValue }] : [];
        const result = compile(routes, policies, { namespace: 'shop' });
        const parsed = parseConfigText(dumpStampedConfig(result.config));
        if (!parsed.ok) throw new Error(`the proxy refuses what compile emitted: ${JSON.stringify(parsed.issues)}`);
        expect(result.routes).toHaveLength(routes.length);
      }),
      { numRuns: RUNS },
    );
  });
});
