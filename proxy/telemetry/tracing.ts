// Builds the OpenTelemetry pipeline from a TracingConfig: tracer provider, sampler, W3C propagators,
// and an OTLP exporter behind a batch processor (bounded queue; a full queue drops spans and counts
// them in `llmroute_trace_spans_total{result="dropped"}`). Export never runs inside a request (deferExports).
// The SDK, resources and exporter modules are imported only when tracing is on: a sidecar without
// a collector does not pay their memory.
import { createNoopMeter, type Counter, type Meter, type MeterProvider, type TextMapPropagator } from '@opentelemetry/api';
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import type { Sampler, SpanExporter, SpanProcessor } from '@opentelemetry/sdk-trace';
import { DEFAULT_ATTRIBUTE_LENGTH, type SamplerSetting, type TracingConfig } from './otel-config.ts';
import { SEMCONV } from './semconv.ts';
import { passThroughTracer, spanTracer, type RequestTracer } from './spans.ts';

export interface Tracing {
  readonly enabled: boolean;
  readonly tracer: RequestTracer;
  forceFlush(): Promise<void>;
  shutdown(): Promise<void>;
}

export interface TracingOptions {
  serviceVersion: string;
  /** Resource attributes of the workload (k8s.namespace.name, k8s.pod.name...). */
  workloadAttributes?: Readonly<Record<string, string>>;
  /** Counts spans by result (exported, dropped, export_failed). */
  countSpans?: (result: 'exported' | 'dropped' | 'export_failed', n: number) => void;
  /** Tests: export here instead of OTLP, synchronously (SimpleSpanProcessor). */
  exporter?: SpanExporter;
}

type SdkTrace = typeof import('@opentelemetry/sdk-trace');

export async function createTracing(config: TracingConfig, options: TracingOptions): Promise<Tracing> {
  const propagator = buildPropagator(config.propagators);
  if (!config.enabled && !options.exporter) {
    return { enabled: false, tracer: passThroughTracer(propagator), forceFlush: async () => {}, shutdown: async () => {} };
  }
  const [sdk, { resourceFromAttributes }] = await Promise.all([import('@opentelemetry/sdk-trace'), import('@opentelemetry/resources')]);
  const processor = await buildProcessor(sdk, config, options);
  const resourceAttributes = {
    ...(config.enabled ? config.resourceAttributes : {}),
    ...options.workloadAttributes,
    [SEMCONV.SERVICE_NAME]: config.enabled ? config.serviceName : 'llmroute-sidecar',
    [SEMCONV.SERVICE_VERSION]: options.serviceVersion,
  };
  const provider = new sdk.TracerProvider({
    resource: resourceFromAttributes(resourceAttributes),
    sampler: config.enabled ? buildSampler(sdk, config.sampler) : new sdk.AlwaysOnSampler(),
    spanLimits: { attributeValueLengthLimit: config.enabled ? config.attributeValueLengthLimit : DEFAULT_ATTRIBUTE_LENGTH },
    spanProcessors: [processor],
  });
  const tracer = provider.getTracer('llmroute', options.serviceVersion);
  return {
    enabled: true,
    tracer: spanTracer(tracer, propagator, { captureMessageContent: config.captureMessageContent }),
    forceFlush: () => provider.forceFlush(),
    shutdown: () => provider.shutdown(),
  };
}

async function buildProcessor(sdk: SdkTrace, config: TracingConfig, options: TracingOptions): Promise<SpanProcessor> {
  if (options.exporter) return new sdk.SimpleSpanProcessor({ exporter: options.exporter });
  if (!config.enabled) throw new Error('unreachable: tracing disabled without a test exporter');
  // The exporters read headers, certificates, compression and timeout from OTEL_EXPORTER_OTLP_*
  // themselves (header values, often credentials, never pass through our config or logs).
  const exporter: SpanExporter =
    config.protocol === 'http/json'
      ? new (await import('@opentelemetry/exporter-trace-otlp-http')).OTLPTraceExporter({ url: config.endpoint })
      : new (await import('@opentelemetry/exporter-trace-otlp-proto')).OTLPTraceExporter({ url: config.endpoint });
  return new sdk.BatchSpanProcessor({
    exporter: deferExports(exporter),
    ...config.batch,
    ...(options.countSpans ? { selfObsMeterProvider: spanCountingMeterProvider(options.countSpans) } : {}),
  });
}

/**
 * The batch processor exports a full batch synchronously inside the `span.end()` that filled it, so
 * one request in every few hundred would carry the serialization of the whole batch (~15 us a span,
 * ~8 ms for 512). Deferred to the next turn of the event loop, that work runs between requests instead
 * of inside one. The processor waits for the export's result either way (flush and shutdown too).
 */
export function deferExports(exporter: SpanExporter): SpanExporter {
  return {
    export: (spans, resultCallback) => void setImmediate(() => exporter.export(spans, resultCallback)),
    shutdown: () => exporter.shutdown(),
    forceFlush: () => exporter.forceFlush?.() ?? Promise.resolve(),
  };
}

function buildSampler(sdk: SdkTrace, setting: SamplerSetting): Sampler {
  switch (setting.kind) {
    case 'always_on':
      return new sdk.AlwaysOnSampler();
    case 'always_off':
      return new sdk.AlwaysOffSampler();
    case 'traceidratio':
      return new sdk.TraceIdRatioBasedSampler(setting.ratio);
    case 'parentbased_always_on':
      return new sdk.ParentBasedSampler({ root: new sdk.AlwaysOnSampler() });
    case 'parentbased_always_off':
      return new sdk.ParentBasedSampler({ root: new sdk.AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new sdk.ParentBasedSampler({ root: new sdk.TraceIdRatioBasedSampler(setting.ratio) });
  }
}

function buildPropagator(names: ReadonlyArray<'tracecontext' | 'baggage'>): TextMapPropagator {
  const propagators: TextMapPropagator[] = [];
  if (names.includes('tracecontext')) propagators.push(new W3CTraceContextPropagator());
  if (names.includes('baggage')) propagators.push(new W3CBaggagePropagator());
  return new CompositePropagator({ propagators });
}

/**
 * The batch processor reports processed spans through an OpenTelemetry meter
 * (`otel.sdk.processor.span.processed`, with `error.type=queue_full` for drops). This minimal meter
 * provider turns that one counter into our Prometheus counter; every other instrument is a no-op.
 */
function spanCountingMeterProvider(count: NonNullable<TracingOptions['countSpans']>): MeterProvider {
  const noop = createNoopMeter();
  const meter: Meter = Object.create(noop, {
    createCounter: {
      value: (name: string): Counter => {
        if (name !== 'otel.sdk.processor.span.processed') return noop.createCounter(name);
        return {
          add(value, attributes) {
            const errorType = attributes?.['error.type'];
            count(errorType === undefined ? 'exported' : errorType === 'queue_full' ? 'dropped' : 'export_failed', value);
          },
        };
      },
    },
  });
  return { getMeter: () => meter };
}
