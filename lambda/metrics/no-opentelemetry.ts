/**
 * Stands in for @opentelemetry/api in the Lambda bundle only (infra/bundle-options.ts). prom-client
 * asks it for the active span when exemplars are enabled, which the proxy never does; the real
 * package is 21 KB minified. Tests and `npm start` load the real one.
 */
export const trace = { getSpan: (): undefined => undefined };
export const context = { active: (): undefined => undefined };
