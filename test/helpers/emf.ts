/**
 * Reads CloudWatch Embedded Metric Format lines as CloudWatch Logs would: each line must be one
 * JSON object with `_aws.Timestamp` and `_aws.CloudWatchMetrics` directives whose dimension keys
 * and metric names are members of the root with string (dimensions) or numeric (metrics, up to
 * 100 values) values. Throws on anything else, naming the line.
 */
export interface EmfDatum {
  namespace: string;
  /** Dimension name → value (empty for a dimensionless metric). */
  dimensions: Record<string, string>;
  metric: string;
  unit?: string;
  values: number[];
}

/** Parses log output: each string may hold several lines (one write of several documents). */
export function parseEmfLines(output: readonly string[]): EmfDatum[] {
  const out: EmfDatum[] = [];
  const lines = output.flatMap((text) => text.split('\n')).filter((line) => line.trim() !== '');
  for (const line of lines) {
    const fail = (why: string): never => {
      throw new Error(`not an EMF document (${why}): ${line.slice(0, 200)}`);
    };
    let doc: Record<string, unknown>;
    try {
      doc = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return fail('not JSON');
    }
    const aws = doc._aws as { Timestamp?: unknown; CloudWatchMetrics?: unknown } | undefined;
    if (!aws || typeof aws.Timestamp !== 'number') fail('_aws.Timestamp missing');
    if (!Array.isArray(aws!.CloudWatchMetrics) || aws!.CloudWatchMetrics.length === 0)
      fail('no CloudWatchMetrics');
    for (const directive of aws!.CloudWatchMetrics as Record<string, unknown>[]) {
      const namespace = directive.Namespace;
      if (typeof namespace !== 'string' || namespace.length === 0) fail('Namespace');
      const sets = directive.Dimensions;
      if (!Array.isArray(sets) || sets.length === 0) fail('Dimensions');
      for (const set of sets as unknown[]) {
        if (!Array.isArray(set) || set.length > 30) fail('dimension set');
        for (const key of set as unknown[])
          if (typeof key !== 'string' || typeof doc[key] !== 'string') fail(`dimension ${String(key)}`);
      }
      if (!Array.isArray(directive.Metrics)) fail('Metrics');
      for (const m of directive.Metrics as { Name?: unknown; Unit?: unknown }[]) {
        if (typeof m.Name !== 'string') fail('metric name');
        const raw = doc[m.Name as string];
        const values = Array.isArray(raw) ? raw : [raw];
        if (values.length === 0 || values.length > 100 || values.some((v) => typeof v !== 'number'))
          fail(`values of ${String(m.Name)}`);
        for (const set of sets as string[][]) {
          out.push({
            namespace: namespace as string,
            dimensions: Object.fromEntries(set.map((k) => [k, doc[k] as string])),
            metric: m.Name as string,
            unit: typeof m.Unit === 'string' ? m.Unit : undefined,
            values: values as number[],
          });
        }
      }
    }
  }
  return out;
}

/** All values of a metric with exactly these dimensions. */
export function emfValues(
  data: EmfDatum[],
  metric: string,
  dimensions: Record<string, string> = {},
): number[] {
  const same = (d: Record<string, string>) =>
    Object.keys(d).length === Object.keys(dimensions).length &&
    Object.entries(dimensions).every(([k, v]) => d[k] === v);
  return data.filter((d) => d.metric === metric && same(d.dimensions)).flatMap((d) => d.values);
}

export const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
