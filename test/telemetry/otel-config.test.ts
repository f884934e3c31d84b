// OTEL_* environment -> tracing settings: off unless an endpoint is set, the spec's defaults,
// and every bad value ignored with a warning rather than a crash.
import { describe, expect, test } from '@jest/globals';
import { tracingConfigFromEnv, type TracingConfig, type TracingEnabled } from '#proxy/telemetry/otel-config.ts';

const defaults = { serviceName: 'llmroute-sidecar' };
const on = (env: Record<string, string>): TracingEnabled => {
  const config: TracingConfig = tracingConfigFromEnv(env, defaults);
  if (!config.enabled) throw new Error(`expected tracing on, got off: ${config.reason}`);
  return config;
};
const endpoint = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' };

describe('tracingConfigFromEnv', () => {
  test('off when no endpoint is set, with propagation still configured', () => {
    const config = tracingConfigFromEnv({}, defaults);
    expect(config).toMatchObject({ enabled: false, propagators: ['tracecontext', 'baggage'] });
    expect(config.enabled ? '' : config.reason).toMatch(/OTEL_EXPORTER_OTLP_ENDPOINT/);
  });

  test('the spec defaults once an endpoint is set', () => {
    expect(on(endpoint)).toEqual({
      enabled: true,
      endpoint: 'http://collector:4318/v1/traces',
      protocol: 'http/protobuf',
      serviceName: 'llmroute-sidecar',
      resourceAttributes: {},
      sampler: { kind: 'parentbased_always_on' },
      propagators: ['tracecontext', 'baggage'],
      captureMessageContent: false,
      batch: { maxQueueSize: 2048, maxExportBatchSize: 512, scheduledDelayMillis: 5000, exportTimeoutMillis: 30000 },
      attributeValueLengthLimit: 16384,
      warnings: [],
    });
  });

  test('the traces endpoint wins and is used as given', () => {
    expect(on({ ...endpoint, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://otel.example/api/spans' }).endpoint).toBe('https://otel.example/api/spans');
  });

  test.each([
    [{ OTEL_SDK_DISABLED: 'true' }, /OTEL_SDK_DISABLED/],
    [{ OTEL_TRACES_EXPORTER: 'none' }, /none/],
    [{ OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }, /grpc is not supported/],
  ])('off when %j', (extra, reason) => {
    const config = tracingConfigFromEnv({ ...endpoint, ...extra }, defaults);
    expect(config.enabled).toBe(false);
    expect(config.enabled ? '' : config.reason).toMatch(reason);
  });

  test('off when the endpoint is not an http(s) URL', () => {
    expect(tracingConfigFromEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4317' }, defaults).enabled).toBe(false);
  });

  test('service name and resource attributes (percent-decoded); OTEL_SERVICE_NAME wins over service.name', () => {
    const config = on({ ...endpoint, OTEL_RESOURCE_ATTRIBUTES: 'service.name=from-attrs,team=pay%20ments,=bad', OTEL_SERVICE_NAME: 'checkout' });
    expect(config.serviceName).toBe('checkout');
    expect(config.resourceAttributes).toEqual({ 'service.name': 'from-attrs', team: 'pay ments' });
    expect(config.warnings).toEqual([expect.stringMatching(/without key=value/)]);
    expect(on({ ...endpoint, OTEL_RESOURCE_ATTRIBUTES: 'service.name=from-attrs' }).serviceName).toBe('from-attrs');
  });

  test('samplers, ratios and their bad values', () => {
    expect(on({ ...endpoint, OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.25' }).sampler).toEqual({ kind: 'parentbased_traceidratio', ratio: 0.25 });
    expect(on({ ...endpoint, OTEL_TRACES_SAMPLER: 'always_off' }).sampler).toEqual({ kind: 'always_off' });
    const badRatio = on({ ...endpoint, OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '7' });
    expect(badRatio.sampler).toEqual({ kind: 'traceidratio', ratio: 1 });
    expect(badRatio.warnings).toHaveLength(1);
    const unknown = on({ ...endpoint, OTEL_TRACES_SAMPLER: 'jaeger_remote' });
    expect(unknown.sampler).toEqual({ kind: 'parentbased_always_on' });
    expect(unknown.warnings[0]).toMatch(/jaeger_remote/);
  });

  test('batch settings: positive integers only, batch never larger than the queue', () => {
    const config = on({ ...endpoint, OTEL_BSP_MAX_QUEUE_SIZE: '100', OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '500', OTEL_BSP_SCHEDULE_DELAY: '-1', OTEL_BSP_EXPORT_TIMEOUT: '1000' });
    expect(config.batch).toEqual({ maxQueueSize: 100, maxExportBatchSize: 100, scheduledDelayMillis: 5000, exportTimeoutMillis: 1000 });
    expect(config.warnings).toHaveLength(2);
  });

  test('propagators: none, a subset, and unsupported ones ignored', () => {
    expect(tracingConfigFromEnv({ OTEL_PROPAGATORS: 'none' }, defaults).propagators).toEqual([]);
    expect(tracingConfigFromEnv({ OTEL_PROPAGATORS: 'tracecontext' }, defaults).propagators).toEqual(['tracecontext']);
    const withB3 = tracingConfigFromEnv({ OTEL_PROPAGATORS: 'b3,tracecontext' }, defaults);
    expect(withB3.propagators).toEqual(['tracecontext']);
    expect(withB3.warnings[0]).toMatch(/b3/);
  });

  test('content capture: opted into by true, SPAN_ONLY or SPAN_AND_EVENT (any case); off otherwise, tracing on or off', () => {
    const capture = (value: string | undefined) => tracingConfigFromEnv({ ...endpoint, ...(value === undefined ? {} : { OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT: value }) }, defaults);
    for (const value of ['true', 'TRUE', 'SPAN_ONLY', 'span_only', ' SPAN_AND_EVENT ']) expect([value, capture(value).captureMessageContent]).toEqual([value, true]);
    for (const value of [undefined, '', 'false', 'NO_CONTENT', 'EVENT_ONLY']) {
      expect([value, capture(value).captureMessageContent]).toEqual([value, false]);
      expect(capture(value).warnings).toEqual([]);
    }
    const unknown = capture('yes');
    expect(unknown.captureMessageContent).toBe(false);
    expect(unknown.warnings).toEqual([expect.stringMatching(/CAPTURE_MESSAGE_CONTENT yes is not supported/)]);
    expect(tracingConfigFromEnv({ OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT: 'true' }, defaults)).toMatchObject({ enabled: false, captureMessageContent: true });
  });

  test('header values never reach the config or its warnings', () => {
    const config = on({ ...endpoint, OTEL_EXPORTER_OTLP_HEADERS: 'authorization=Bearer%20top-secret' });
    expect(JSON.stringify(config)).not.toContain('top-secret');
  });
});
