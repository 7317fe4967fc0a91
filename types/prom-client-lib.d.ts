// prom-client ships types for its index only; lambda/metrics/prom-client.ts imports the modules
// it uses on their own so that the Lambda bundle does not carry Summary (tdigest), Pushgateway
// or the cluster aggregator. Each module's default export is the index's export of that name.
declare module 'prom-client/lib/registry.js' {
  export { Registry as default } from 'prom-client';
}
declare module 'prom-client/lib/counter.js' {
  export { Counter as default } from 'prom-client';
}
declare module 'prom-client/lib/gauge.js' {
  export { Gauge as default } from 'prom-client';
}
declare module 'prom-client/lib/histogram.js' {
  export { Histogram as default } from 'prom-client';
}
declare module 'prom-client/lib/defaultMetrics.js' {
  export { collectDefaultMetrics as default } from 'prom-client';
}
