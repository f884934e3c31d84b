// Tracing settings from the standard OTEL_* environment variables, and only from them (the SDK 3.x
// packages used here do not read the environment themselves, except the OTLP exporter's own
// endpoint, headers, TLS and timeout settings). Pure: the caller passes the environment.

export type Env = Readonly<Record<string, string | undefined>>;

export type SamplerSetting =
  | { kind: 'always_on' | 'always_off' | 'parentbased_always_on' | 'parentbased_always_off' }
  | { kind: 'traceidratio' | 'parentbased_traceidratio'; ratio: number };

export type ExportProtocol = 'http/protobuf' | 'http/json';

export interface TracingEnabled {
  enabled: true;
  /** Where spans are POSTed (the traces endpoint as given, or the base endpoint + `v1/traces`). */
  endpoint: string;
  protocol: ExportProtocol;
  serviceName: string;
  resourceAttributes: Record<string, string>;
  sampler: SamplerSetting;
  propagators: Array<'tracecontext' | 'baggage'>;
  /** OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT opts into prompts on spans (where the policy allows them). */
  captureMessageContent: boolean;
  batch: { maxQueueSize: number; maxExportBatchSize: number; scheduledDelayMillis: number; exportTimeoutMillis: number };
  attributeValueLengthLimit: number;
  /** Settings that were ignored, with why (logged once at start; never contain header values). */
  warnings: string[];
}

export interface TracingDisabled {
  enabled: false;
  /** Why: unset endpoint, OTEL_SDK_DISABLED, OTEL_TRACES_EXPORTER=none, unsupported protocol. */
  reason: string;
  propagators: Array<'tracecontext' | 'baggage'>;
  captureMessageContent: boolean;
  warnings: string[];
}

export type TracingConfig = TracingEnabled | TracingDisabled;

const SAMPLERS = new Set(['always_on', 'always_off', 'traceidratio', 'parentbased_always_on', 'parentbased_always_off', 'parentbased_traceidratio']);

/** The default attribute length cap: prompts (when policy allows them) can be megabytes. */
export const DEFAULT_ATTRIBUTE_LENGTH = 16_384;

export function tracingConfigFromEnv(env: Env, defaults: { serviceName: string }): TracingConfig {
  const warnings: string[] = [];
  const propagators = parsePropagators(env.OTEL_PROPAGATORS, warnings);
  const captureMessageContent = parseCaptureContent(env.OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT, warnings);
  const off = (reason: string): TracingDisabled => ({ enabled: false, reason, propagators, captureMessageContent, warnings });

  if (isTrue(env.OTEL_SDK_DISABLED)) return off('OTEL_SDK_DISABLED is true');
  const exporters = list(env.OTEL_TRACES_EXPORTER);
  if (exporters.includes('none')) return off('OTEL_TRACES_EXPORTER is none');
  const unsupported = exporters.filter((e) => e !== 'otlp');
  if (unsupported.length > 0) warnings.push(`OTEL_TRACES_EXPORTER ${unsupported.join(',')} is not supported (only otlp); ignored`);
  const tracesEndpoint = nonEmpty(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
  const baseEndpoint = nonEmpty(env.OTEL_EXPORTER_OTLP_ENDPOINT);
  if (!tracesEndpoint && !baseEndpoint) return off('no OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT');
  // The signal-specific endpoint is used as is; the base endpoint gets the signal path (OTLP spec).
  const endpoint = tracesEndpoint ?? `${baseEndpoint!.replace(/\/+$/, '')}/v1/traces`;
  if (!isHttpUrl(endpoint)) return off('the OTLP endpoint is not an http(s) URL');

  const protocolSetting = (nonEmpty(env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL) ?? nonEmpty(env.OTEL_EXPORTER_OTLP_PROTOCOL) ?? 'http/protobuf').toLowerCase();
  if (protocolSetting !== 'http/protobuf' && protocolSetting !== 'http/json') {
    return off(`OTLP protocol ${protocolSetting} is not supported (use http/protobuf or http/json)`);
  }

  const resourceAttributes = parseResourceAttributes(env.OTEL_RESOURCE_ATTRIBUTES, warnings);
  const serviceName = nonEmpty(env.OTEL_SERVICE_NAME) ?? resourceAttributes['service.name'] ?? defaults.serviceName;

  const maxQueueSize = positiveInt(env, 'OTEL_BSP_MAX_QUEUE_SIZE', 2048, warnings);
  let maxExportBatchSize = positiveInt(env, 'OTEL_BSP_MAX_EXPORT_BATCH_SIZE', 512, warnings);
  if (maxExportBatchSize > maxQueueSize) {
    warnings.push('OTEL_BSP_MAX_EXPORT_BATCH_SIZE exceeds OTEL_BSP_MAX_QUEUE_SIZE; using the queue size');
    maxExportBatchSize = maxQueueSize;
  }
  return {
    enabled: true,
    endpoint,
    protocol: protocolSetting,
    serviceName,
    resourceAttributes,
    sampler: parseSampler(env.OTEL_TRACES_SAMPLER, env.OTEL_TRACES_SAMPLER_ARG, warnings),
    propagators,
    captureMessageContent,
    batch: {
      maxQueueSize,
      maxExportBatchSize,
      scheduledDelayMillis: positiveInt(env, 'OTEL_BSP_SCHEDULE_DELAY', 5000, warnings),
      exportTimeoutMillis: positiveInt(env, 'OTEL_BSP_EXPORT_TIMEOUT', 30_000, warnings),
    },
    attributeValueLengthLimit: positiveInt(env, 'OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT', DEFAULT_ATTRIBUTE_LENGTH, warnings),
    warnings,
  };
}

function parseSampler(name: string | undefined, arg: string | undefined, warnings: string[]): SamplerSetting {
  const kind = (nonEmpty(name) ?? 'parentbased_always_on').toLowerCase();
  if (!SAMPLERS.has(kind)) {
    warnings.push(`OTEL_TRACES_SAMPLER ${kind} is not supported; using parentbased_always_on`);
    return { kind: 'parentbased_always_on' };
  }
  if (kind === 'traceidratio' || kind === 'parentbased_traceidratio') {
    const ratio = arg === undefined || arg.trim() === '' ? 1 : Number(arg);
    if (!Number.isFinite(ratio) || ratio < 0 || ratio > 1) {
      warnings.push('OTEL_TRACES_SAMPLER_ARG must be a number in [0, 1]; using 1');
      return { kind, ratio: 1 };
    }
    return { kind, ratio };
  }
  return { kind: kind as 'always_on' };
}

function parsePropagators(value: string | undefined, warnings: string[]): Array<'tracecontext' | 'baggage'> {
  const names = list(value);
  if (names.length === 0) return ['tracecontext', 'baggage'];
  if (names.includes('none')) return [];
  const known = names.filter((n): n is 'tracecontext' | 'baggage' => n === 'tracecontext' || n === 'baggage');
  const unknown = names.filter((n) => n !== 'tracecontext' && n !== 'baggage');
  if (unknown.length > 0) warnings.push(`OTEL_PROPAGATORS ${unknown.join(',')} not supported (tracecontext, baggage); ignored`);
  return [...new Set(known)];
}

/**
 * Content on spans: `true` (Elastic's boolean), `SPAN_ONLY` or `SPAN_AND_EVENT` (the Python util's
 * modes); `false`, `NO_CONTENT`, `EVENT_ONLY` (no GenAI events are emitted) or unset: none.
 */
function parseCaptureContent(value: string | undefined, warnings: string[]): boolean {
  const mode = nonEmpty(value)?.toLowerCase();
  if (mode === undefined || mode === 'false' || mode === 'no_content' || mode === 'event_only') return false;
  if (mode === 'true' || mode === 'span_only' || mode === 'span_and_event') return true;
  warnings.push(`OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT ${mode} is not supported (true, SPAN_ONLY, SPAN_AND_EVENT, false, NO_CONTENT, EVENT_ONLY); no content is captured`);
  return false;
}

/** `key1=value1,key2=value2`, values percent-decoded (W3C Baggage octet rules, as the spec says). */
export function parseResourceAttributes(value: string | undefined, warnings: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of (value ?? '').split(',')) {
    if (pair.trim() === '') continue;
    const eq = pair.indexOf('=');
    const key = eq > 0 ? pair.slice(0, eq).trim() : '';
    if (!key) {
      warnings.push('OTEL_RESOURCE_ATTRIBUTES has an entry without key=value; ignored');
      continue;
    }
    try {
      out[key] = decodeURIComponent(pair.slice(eq + 1).trim());
    } catch {
      warnings.push(`OTEL_RESOURCE_ATTRIBUTES value of ${key} is not valid percent-encoding; ignored`);
    }
  }
  return out;
}

function positiveInt(env: Env, name: string, fallback: number, warnings: string[]): number {
  const raw = nonEmpty(env[name]);
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0) {
    warnings.push(`${name} must be a positive integer; using ${fallback}`);
    return fallback;
  }
  return n;
}

const nonEmpty = (value: string | undefined): string | undefined => (value === undefined || value.trim() === '' ? undefined : value.trim());
const list = (value: string | undefined): string[] => (value ?? '').split(',').map((s) => s.trim().toLowerCase()).filter((s) => s !== '');
const isTrue = (value: string | undefined): boolean => nonEmpty(value)?.toLowerCase() === 'true';

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}
