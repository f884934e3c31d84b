// prom-client's four classes we use, imported from their own files. The package's index also loads
// its Pushgateway (node:https, hence OpenSSL's TLS stack), cluster aggregation and default process
// metrics at import: ~15 MB of resident memory in a sidecar that uses none of them. These are the
// same classes the index re-exports (it is `exports.Counter = require('./lib/counter')`), so
// prom-client's own types describe them (prom-client-lib.d.ts); the package has no "exports" map
// that forbids the paths.
import RegistryClass from 'prom-client/lib/registry.js';
import CounterClass from 'prom-client/lib/counter.js';
import GaugeClass from 'prom-client/lib/gauge.js';
import HistogramClass from 'prom-client/lib/histogram.js';
import type * as PromClient from 'prom-client';

export const Registry = RegistryClass;
export const Counter = CounterClass;
export const Gauge = GaugeClass;
export const Histogram = HistogramClass;
export type Registry<T extends PromClient.RegistryContentType = PromClient.PrometheusContentType> = PromClient.Registry<T>;
export type OpenMetricsContentType = PromClient.OpenMetricsContentType;
export type Counter<T extends string = string> = PromClient.Counter<T>;
export type Gauge<T extends string = string> = PromClient.Gauge<T>;
export type Histogram<T extends string = string> = PromClient.Histogram<T>;
