import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { collect } from '../helpers/child-output';
import { errorLines, exited, startMain, until } from '../helpers/npm-start-run';
import { tempDir } from '../helpers/temp-dir';

describe('npm start', { timeout: 240_000 }, () => {
  it('runs the embedded demo, serves the printed key, and stops on Ctrl-C', async () => {
    const child = startMain([]);
    const io = collect(child);
    try {
      await until(() => /# backend/.test(io.out()), 'the demo banner');
      const lines = io.out().split('\n');
      const value = (name: string) => lines.find((l) => l.startsWith(`${name}=`))?.slice(name.length + 1);
      expect(lines[0]).toMatch(/^AWS_ENDPOINT_URL=http:\/\/127\.0\.0\.1:\d+$/);
      expect(lines[1]).toMatch(/^AWS_ACCESS_KEY_ID=\S+$/);
      expect(lines[2]).toMatch(/^AWS_SECRET_ACCESS_KEY=\S+$/);
      expect(lines[3]).toBe('AWS_REGION=us-east-1');
      expect(io.out()).toMatch(
        /aws s3 ls .*s3:\/\/datalake\/sales\/ --endpoint-url http:\/\/127\.0\.0\.1:\d+/,
      );
      expect(io.out()).toMatch(/polars/);

      const client = new S3Client({
        endpoint: value('AWS_ENDPOINT_URL'),
        region: 'us-east-1',
        forcePathStyle: true,
        credentials: {
          accessKeyId: value('AWS_ACCESS_KEY_ID')!,
          secretAccessKey: value('AWS_SECRET_ACCESS_KEY')!,
        },
      });
      const listed = await client.send(new ListObjectsV2Command({ Bucket: 'datalake', Prefix: 'sales/' }));
      const keys = (listed.Contents ?? []).map((o) => o.Key!);
      const data = keys.filter((k) => k.endsWith('.parquet') && !k.includes('_delta_log'));
      expect(data.length).toBeGreaterThanOrEqual(3);
      expect(
        data.every(
          (k) => k.startsWith('sales/region=EU/') || k.startsWith('sales/region=US/date=2024-01-01/'),
        ),
      ).toBe(true);
      expect(keys.some((k) => k.endsWith('.checkpoint.parquet'))).toBe(true);
      const got = await client.send(new GetObjectCommand({ Bucket: 'datalake', Key: data[0] }));
      const bytes = await got.Body!.transformToByteArray();
      expect(Buffer.from(bytes.subarray(0, 4)).toString()).toBe('PAR1');
      client.destroy();

      // The printed metrics URL serves this process's Prometheus text: a list and a GET so far.
      const metricsUrl = /# Prometheus metrics: curl (\S+)/.exec(io.out())![1]!;
      expect(metricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
      const text = await (await fetch(metricsUrl, { signal: AbortSignal.timeout(5_000) })).text();
      expect(text).toMatch(/^deltaproxy_queries_served_total\{[^}]*\} 2$/m);
      expect(text).toMatch(/^deltaproxy_queries_proxied_total\{[^}]*\} 1$/m);
    } finally {
      child.kill('SIGINT');
    }
    expect(await exited(child)).toBe(0);
  });

  it('runs the proxy alone with --config FILE and refuses a bad config with one line', async () => {
    const dir = tempDir('cfg-');
    const good = join(dir, 'good.json');
    const secret = 'g'.repeat(40);
    writeFileSync(
      good,
      JSON.stringify({
        port: 0,
        metricsPort: 0,
        tableMapping: { t: 's3://some-bucket/t' },
        s3: { endpoint: 'http://127.0.0.1:9' },
        auth: { keys: [{ accessKeyId: 'DLPSTARTKEY000000001', secretAccessKey: secret, principal: 'p' }] },
      }),
    );
    chmodSync(good, 0o644); // a secret that group and others may read: one warning at start-up
    const child = startMain(['--config', good]);
    const io = collect(child);
    try {
      await until(() => /listening on http:\/\/127\.0\.0\.1:\d+/.test(io.err()), 'the listening line');
      const warned = io
        .err()
        .split('\n')
        .filter((l) => l.includes('"level":"warn"'));
      expect(warned).toEqual([
        expect.stringContaining(`"message":"${good} holds secrets (secret access keys)`),
      ]);
      expect(JSON.parse(warned[0]!)).toMatchObject({ file: good, mode: '0644' });
      expect(io.err()).not.toContain(secret);
      const url = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(io.err())![1]!;
      const res = await fetch(`${url}/`, { signal: AbortSignal.timeout(5_000) });
      // No anonymous access by default: an unsigned request is refused in S3 XML.
      expect(res.status).toBe(403);
      expect(await res.text()).toContain('<Code>AccessDenied</Code>');
      const metricsUrl = /metrics on (\S+)/.exec(io.err())![1]!;
      const text = await (await fetch(metricsUrl, { signal: AbortSignal.timeout(5_000) })).text();
      expect(text).toMatch(/^deltaproxy_auth_failures_total\{code="AccessDenied",[^}]*\} 1$/m);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited(child)).toBe(0);

    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ tableMapping: { t: 'https://nope' } }));
    const failing = startMain(['--config', bad]);
    const fio = collect(failing);
    expect(await exited(failing)).toBe(1);
    const errLines = errorLines(fio);
    expect(errLines).toEqual([
      expect.stringMatching(/^configuration error: tableMapping\.t: must be an s3:\/\/bucket\/prefix URI/),
    ]);
  });
});
