/**
 * prom-client's registry, metric types and default process metrics, loaded from the package's
 * own modules rather than its index: the index also loads Summary (with tdigest), Pushgateway
 * (http, https, zlib) and the cluster aggregator, none of which the proxy uses. Same classes,
 * ~20 KB less in the Lambda bundle. prom-client is pinned; a moved file fails every test.
 */
import type * as Prom from 'prom-client';
import CounterClass from 'prom-client/lib/counter.js';
import collectDefaultMetrics from 'prom-client/lib/defaultMetrics.js';
import GaugeClass from 'prom-client/lib/gauge.js';
import HistogramClass from 'prom-client/lib/histogram.js';
import RegistryClass from 'prom-client/lib/registry.js';

export const Counter = CounterClass;
export type Counter<T extends string = string> = Prom.Counter<T>;
export const Gauge = GaugeClass;
export type Gauge<T extends string = string> = Prom.Gauge<T>;
export const Histogram = HistogramClass;
export type Histogram<T extends string = string> = Prom.Histogram<T>;
export const Registry = RegistryClass;
export type Registry = Prom.Registry;
export { collectDefaultMetrics };
