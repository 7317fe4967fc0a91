/**
 * The embedded S3-compatible server for `npm start` and tests: s3rver on loopback, storing
 * objects in a directory. s3rver signs its listing tokens with a cipher that Node 17+ only
 * offers under `--openssl-legacy-provider` (set by the npm scripts).
 */
import S3rver from 's3rver';

export interface EmbeddedS3 {
  endpoint: string;
  port: number;
  close(): Promise<void>;
}

export async function startEmbeddedS3(directory: string, port = 0): Promise<EmbeddedS3> {
  const server = new S3rver({ port, address: '127.0.0.1', silent: true, directory, resetOnClose: false });
  const { port: actual } = (await server.run()) as { port: number };
  return {
    endpoint: `http://127.0.0.1:${actual}`,
    port: actual,
    close: () => server.close(),
  };
}
