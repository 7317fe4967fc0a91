/**
 * A part of the proxy that only some requests or configurations need (the filtered log view and
 * its Parquet writer, the DynamoDB client), loaded on first use: in the Lambda bundle its
 * dynamic `import()` is a chunk of its own, so module init does not parse it. Create the loader
 * at module scope so the module loads once per process however many requests ask at once.
 *
 * A failed load (a missing or broken chunk) is an outage of that part, not of the process: the
 * request that needed it gets InternalError, requests that do not need it go on, and the failure
 * is forgotten so a later request tries again.
 */
import { S3Error } from './s3-error';

export function lazyModule<T>(name: string, load: () => Promise<T>): () => Promise<T> {
  let loading: Promise<T> | undefined;
  return () => {
    if (loading) return loading;
    const started = load().catch((err: unknown) => {
      if (loading === started) loading = undefined;
      const why = err instanceof Error ? err.message : String(err);
      throw new S3Error('InternalError', undefined, {}, `${name} failed to load: ${why}`);
    });
    loading = started;
    return started;
  };
}
