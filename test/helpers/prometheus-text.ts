/**
 * Parses Prometheus text with a real parser: Python prometheus_client's
 * `text_string_to_metric_families` (install with `pip install prometheus_client`; tests that
 * need it skip, with this reason, where it is absent).
 */
import { execFile } from 'node:child_process';
import { unavailable } from '../auth/helpers/python-env';

export const prometheusParserMissing = await unavailable('python3', ['-c', 'import prometheus_client']);

export interface Sample {
  family: string;
  type: string;
  name: string;
  labels: Record<string, string>;
  /** NaN and ±Inf as JavaScript numbers. */
  value: number;
}

const SCRIPT = `
import json, math, sys
from prometheus_client.parser import text_string_to_metric_families
out = []
for family in text_string_to_metric_families(sys.stdin.read()):
    for s in family.samples:
        v = s.value
        out.append({'family': family.name, 'type': family.type, 'name': s.name, 'labels': s.labels,
                    'value': v if math.isfinite(v) else str(v)})
print(json.dumps(out))
`;

export function parsePrometheusText(text: string): Promise<Sample[]> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      'python3',
      ['-c', SCRIPT],
      { timeout: 30_000, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        if (err) return reject(new Error(`prometheus_client refused the text: ${stderr || err.message}`));
        const raw = JSON.parse(stdout) as (Omit<Sample, 'value'> & { value: number | string })[];
        resolve(raw.map((s) => ({ ...s, value: Number(s.value) })));
      },
    );
    child.stdin!.end(text);
  });
}

/** The value of the one sample named `name` whose labels include `labels`; throws if not exactly one. */
export function sampleValue(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  const found = samples.filter(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
  if (found.length !== 1) throw new Error(`${found.length} samples match ${name} ${JSON.stringify(labels)}`);
  return found[0]!.value;
}
