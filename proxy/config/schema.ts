// The compiled config: the one contract between the operator (writer) and the proxy (reader).
// Plain data only. Durations are milliseconds, credentials are file paths or env var names,
// never secret values. Provider-specific settings live in `options`, validated by each adapter.
import * as z from './zod.ts';

export const CONFIG_API_VERSION = 'config.llmroute.dev/v1alpha1';
export const CONFIG_KIND = 'ProxyConfig';

export const PROVIDERS = [
  'openai',
  'azure-openai',
  'mistral',
  'deepseek',
  'qwen',
  'openai-compatible',
  'anthropic',
  'gemini',
  'echo',
] as const;
export type ProviderName = (typeof PROVIDERS)[number];

export const STRATEGIES = ['failover', 'weighted'] as const;
export type Strategy = (typeof STRATEGIES)[number];

const name = z.string().check(z.minLength(1), z.maxLength(253));
/** A route is named `namespace/name` by the operator: a namespace (63) and an object name (253) fit. */
const routeName = z.string().check(z.minLength(1), z.maxLength(63 + 1 + 253));

// --- credentials ----------------------------------------------------------------------------------
/** The syntax of an environment variable name. */
export const envNameSchema = z.string().check(z.regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name (letters, digits, _)'));

/** Known key prefixes that fit the name syntax (Google, Hugging Face, Groq, Replicate). */
const KEY_PREFIX = /^(AIza|hf_|gsk_|r8_)/;

/**
 * Whether an environment variable "name" is really a pasted API key. Mistral's keys (32 letters and
 * digits) and Google's (`AIza` + 35) fit the name syntax, and a key there would be written into the
 * ConfigMap. Judged per `_`-separated part, as names are UPPER_SNAKE (`OPENAI_API_KEY_westeurope2` is a
 * name): a part of 24 or more characters mixing both cases and digits, or of 32 or more letters and
 * digits with at least 4 digits, is a key; so is a known key prefix on 30 or more characters. A
 * camelCase name that long with digits (`MyCompanyOpenAIKey2024Prod`) is taken for a key too: rename
 * it. The LLMRoute CRD carries the same test as a CEL rule (ENV_NAME_KEY_CEL).
 */
export function looksLikeApiKey(name: string): boolean {
  if (KEY_PREFIX.test(name) && name.length >= 30) return true;
  return name.split('_').some((part) =>
    (part.length >= 24 && /[a-z]/.test(part) && /[A-Z]/.test(part) && /[0-9]/.test(part)) ||
    (part.length >= 32 && /^[0-9A-Za-z]+$/.test(part) && /([0-9][^0-9]*){4}/.test(part)));
}
/** The CRD's rule, on the credentials object (the apiserver's refusal of a string repeats its value). */
export const ENV_NAME_KEY_CEL =
  "!has(self.env) || !((self.env.matches('^(AIza|hf_|gsk_|r8_)') && size(self.env) >= 30) || self.env.split('_').exists(p, (size(p) >= 24 && p.matches('[a-z]') && p.matches('[A-Z]') && p.matches('[0-9]')) || (size(p) >= 32 && p.matches('^[0-9A-Za-z]+$') && p.matches('([0-9][^0-9]*){4}'))))";
/** Never repeats the value: it may be the key. */
export const ENV_NAME_KEY_MESSAGE = 'looks like an API key, not the name of an environment variable: put the key in a Secret (credentials.secretRef)';
/**
 * The name in an LLMRoute: refused when it looks like a key, before it reaches the ConfigMap. The
 * proxy checks only the syntax: refusing a whole config on this guess would stop every route.
 */
export const routeEnvNameSchema = envNameSchema.check(z.refine((name) => !looksLikeApiKey(name), ENV_NAME_KEY_MESSAGE));

export const credentialsSchema = z.discriminatedUnion('kind', [
  /** Read the key from a file (a projected Secret volume); re-read when it changes. */
  z.strictObject({ kind: z.literal('file'), path: z.string().check(z.startsWith('/')) }),
  /** Read the key from the sidecar's environment. */
  z.strictObject({ kind: z.literal('env'), name: envNameSchema }),
  z.strictObject({ kind: z.literal('none') }),
]);
export type Credentials = z.infer<typeof credentialsSchema>;

/** USD per million tokens. */
const price = z.number().check(z.nonnegative());

const millis = z.int().check(z.positive(), z.maximum(24 * 3600 * 1000));

// --- baseURL -------------------------------------------------------------------------------------
// A base URL is `http(s)://host[:port][/path]` and nothing else: no user info (a password in the
// ConfigMap, sent upstream as Basic auth), no query, no fragment (`https://evil.example#.openai.azure.com`
// goes to evil.example), no dot segments, plain or percent-encoded (`/../`, `/%2e%2e/`), no encoded
// `/` or `\`, no empty path segment but a trailing `/`; an ASCII host name (punycode for IDNs) or a
// bracketed IPv6 address. The LLMRoute CRD carries BASE_URL_PATTERN itself, so kubectl refuses these
// at apply time; baseURLProblem adds a message per case and what a pattern cannot check (port range).

/** A path character: unreserved, sub-delims but `'`, `:` `@`, or a percent escape but of `.`, `/` and `\`. */
const PCHAR = '[A-Za-z0-9_~!$&()*+,;=:@-]|%(2[0-9A-Da-d]|5[0-9ABD-Fabd-f]|[013-46-9A-Fa-f][0-9A-Fa-f])';
/** The CRD's `pattern` for baseURL, verbatim: RE2- and ECMAScript-compatible (no lookaround). A path
 *  segment may start with dots but needs a character that is not one (no `.`, `..`). */
export const BASE_URL_PATTERN =
  '^https?://([A-Za-z0-9_-]+(\\.[A-Za-z0-9_-]+)*|\\[[0-9A-Fa-f:.]+\\])(:[0-9]{1,5})?' +
  `(/\\.*(${PCHAR})(\\.|${PCHAR})*)*/?$`;
export const BASE_URL_MAX_LENGTH = 2048;
const baseURLPattern = new RegExp(BASE_URL_PATTERN);

/** Why a baseURL is refused, or undefined when it is acceptable. Never repeats the value (it may hold a password). */
export function baseURLProblem(value: string): string | undefined {
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(value);
  if (!scheme || !/^https?:\/\//.test(value)) {
    return scheme && !/^https?$/i.test(scheme[1]!)
      ? `must use the http or https scheme, not ${scheme[1]!.slice(0, 20)}`
      : 'must start with http:// or https:// (lower case)';
  }
  // eslint-disable-next-line no-control-regex -- control characters are what this looks for
  if (/[\s\u0000-\u001f\u007f]/.test(value)) return 'must not contain spaces or control characters';
  if (value.includes('\\')) return 'must not contain a backslash';
  const rest = value.slice(value.indexOf('//') + 2);
  const authority = rest.slice(0, rest.search(/[/?#]|$/));
  if (authority.includes('@')) return 'must not contain user info (user:password@); a key belongs in a Secret (credentials.secretRef)';
  if (authority === '' || authority.startsWith(':')) return 'must name a host';
  if (value.includes('#')) return 'must not contain a fragment (#...): the part after # is never sent, so the host before it is the one called';
  if (value.includes('?')) return 'must not contain a query (?...); provider settings such as the API version go in options';
  const path = rest.slice(authority.length);
  if (path.split('/').some((s) => /^(\.|%2e){1,2}$/i.test(s))) return 'must not contain dot segments (/./ or /../, also percent-encoded as %2e)';
  if (/%(2f|5c)/i.test(path)) return 'must not contain an encoded / or \\ (%2F, %5C)';
  if (path.includes('//')) return 'must not contain empty path segments (//)';
  if (!baseURLPattern.test(value)) {
    return 'must be http(s)://host[:port][/path], with an ASCII host name or [IPv6 address] and path segments of letters, digits, -._~!$&()*+,;=:@ or %XX';
  }
  if (!URL.canParse(value)) return 'is not a valid URL (host or port out of range)';
  return undefined;
}

export const baseURLSchema = z.string().check(
  z.maxLength(BASE_URL_MAX_LENGTH),
  z.superRefine((value, ctx) => {
    const problem = baseURLProblem(value);
    if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
  }),
);
// --- end baseURL ---------------------------------------------------------------------------------

export const backendSchema = z.strictObject({
  name,
  provider: z.enum(PROVIDERS),
  /** The model name the provider expects. */
  model: z.string().check(z.minLength(1)),
  /** Base URL of the provider API; every provider adapter has a default where one exists. */
  baseURL: z.optional(baseURLSchema),
  /** Where the provider processes data; policy matches on it. */
  region: z.optional(z.string().check(z.minLength(1))),
  dataRetention: z._default(z.enum(['zero', 'standard']), 'standard'),
  credentials: credentialsSchema,
  weight: z._default(z.int().check(z.minimum(0), z.maximum(1_000_000)), 1),
  /** Per attempt. Absent values take the proxy's defaults: connect 10 s, total 600 s, idle 60 s
   *  (streams: longest silence between upstream chunks once they have started), first token none. */
  timeouts: z._default(z.strictObject({ connectMs: z.optional(millis), firstTokenMs: z.optional(millis), idleMs: z.optional(millis), totalMs: z.optional(millis) }), {}),
  /** Prices in USD per million tokens, overriding the shipped table field by field (negotiated
   *  rates, self-hosted cost per token). */
  pricing: z.optional(
    z.strictObject({
      input: z.optional(price),
      cachedInput: z.optional(price),
      cacheWrite: z.optional(price),
      output: z.optional(price),
      reasoning: z.optional(price),
    }),
  ),
  /** Provider-specific settings (for example Azure's apiVersion); each adapter owns their schema. */
  options: z._default(z.record(z.string(), z.unknown()), {}),
});
export type BackendConfig = z.infer<typeof backendSchema>;

export const retriesSchema = z.strictObject({
  /** Extra attempts after the first one, across all backends of the route. */
  attempts: z._default(z.int().check(z.minimum(0), z.maximum(10)), 1),
  /** Base of the exponential backoff (full jitter). */
  backoffMs: z._default(z.int().check(z.minimum(0), z.maximum(60_000)), 100),
  /** Cap of one backoff wait, and of a honoured retry-after. */
  maxBackoffMs: z._default(z.int().check(z.minimum(0), z.maximum(300_000)), 10_000),
});

export const routeSchema = z.strictObject({
  /** `namespace/name` of the LLMRoute it came from (or the file name for local configs). */
  name: routeName,
  /** Model names clients send that this route answers. */
  models: z.array(z.string().check(z.minLength(1))).check(z.minLength(1)),
  strategy: z._default(z.enum(STRATEGIES), 'failover'),
  backends: z.array(backendSchema).check(z.minLength(1)),
  retries: z._default(retriesSchema, { attempts: 1, backoffMs: 100, maxBackoffMs: 10_000 }),
  /** `requestMs`: one deadline for the whole request, every failover, retry and backoff included;
   *  absent: 600 s, or the longest total timeout of the route's backends if longer. */
  timeouts: z.optional(z.strictObject({ requestMs: z.optional(millis) })),
});
export type RouteConfig = z.infer<typeof routeSchema>;

/** Run-time policy the proxy enforces (fail closed); compiled from the namespace's LLMPolicy. */
// --- allowedHosts ---------------------------------------------------------------------------------
/** The CRD's `pattern` for one LLMPolicy allowedHosts entry, verbatim (RE2 and ECMAScript): a lower-case
 *  host name, optionally after `*.` (every name under that domain), or a bracketed IPv6 address. */
export const HOST_PATTERN = '^((\\*\\.)?[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*|\\[[0-9a-f:.]+\\])$';
export const HOST_PATTERN_MAX_LENGTH = 253;
export const hostPatternSchema = z.string().check(
  z.maxLength(HOST_PATTERN_MAX_LENGTH),
  z.regex(new RegExp(HOST_PATTERN), 'must be a lower-case host name, *. and a domain (every name under it), or an [IPv6] address; no scheme, port or path'),
);

export const policySchema = z.strictObject({
  allowedRegions: z.optional(z.array(z.string())),
  /** Hosts backends may call (see policy/host-patterns.ts); absent means any. */
  allowedHosts: z.optional(z.array(hostPatternSchema)),
  allowedProviders: z.optional(z.array(z.enum(PROVIDERS))),
  deniedModels: z.optional(z.array(z.string())),
  requireZeroDataRetention: z._default(z.boolean(), false),
  logPrompts: z._default(z.boolean(), false),
});
export type PolicyConfig = z.infer<typeof policySchema>;

export const serverSchema = z.strictObject({
  /** Largest request body accepted, in bytes (413 above it). */
  maxBodyBytes: z._default(z.int().check(z.positive(), z.maximum(512 * 1024 * 1024)), 10 * 1024 * 1024),
  /** Largest non-streamed upstream answer read, in bytes (502 `upstream_response_too_large` above it);
   *  default 64 MiB. Raise it for float-encoded embeddings of large batches. */
  maxResponseBytes: z.optional(z.int().check(z.positive(), z.maximum(1024 * 1024 * 1024))),
});

export type ServerConfigInput = z.input<typeof serverSchema>;

export const configSchema = z
  .strictObject({
    apiVersion: z.literal(CONFIG_API_VERSION),
    kind: z.literal(CONFIG_KIND),
    /** Content hash of the config (see generation.ts); identifies the config in force.
     *  Computed at load when absent (hand-written files); checked when present. */
    generation: z.optional(z.string().check(z.minLength(1))),
    /** Namespace the config was compiled for, when it came from the operator. */
    namespace: z.optional(z.string()),
    server: z._default(serverSchema, { maxBodyBytes: 10 * 1024 * 1024 }),
    policy: z._default(policySchema, { requireZeroDataRetention: false, logPrompts: false }),
    routes: z.array(routeSchema),
  })
  .check(z.superRefine((config, ctx) => {
    const owner = new Map<string, number>();
    // Route names key the circuit breakers and the metric series: two routes of one name would share them.
    const routeNames = new Set<string>();
    config.routes.forEach((route, r) => {
      if (routeNames.has(route.name)) ctx.addIssue({ code: 'custom', path: ['routes', r, 'name'], message: `duplicate route name "${route.name}"` });
      routeNames.add(route.name);
      route.models.forEach((model, m) => {
        const first = owner.get(model);
        if (first !== undefined && first !== r) {
          ctx.addIssue({
            code: 'custom',
            path: ['routes', r, 'models', m],
            message: `model "${model}" is already served by route ${config.routes[first]!.name}`,
          });
        } else owner.set(model, r);
      });
      const names = new Set<string>();
      route.backends.forEach((backend, b) => {
        if (names.has(backend.name)) {
          ctx.addIssue({ code: 'custom', path: ['routes', r, 'backends', b, 'name'], message: `duplicate backend name "${backend.name}"` });
        }
        names.add(backend.name);
      });
      if (route.strategy === 'weighted' && route.backends.every((b) => b.weight === 0)) {
        ctx.addIssue({ code: 'custom', path: ['routes', r, 'backends'], message: 'weighted strategy needs at least one backend with weight > 0' });
      }
    });
  }));

/** The config as written in config.yaml (defaults may be omitted). */
export type ConfigInput = z.input<typeof configSchema>;
/** The config after validation, defaults filled in, generation known. */
export type ProxyConfig = z.infer<typeof configSchema> & { generation: string };
