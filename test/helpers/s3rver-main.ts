// Runs s3rver in its own process (it needs --openssl-legacy-provider); prints "READY <port>".
import { startEmbeddedS3 } from '../../lambda/local/embedded-s3';

const dir = process.argv[2];
if (!dir) throw new Error('usage: s3rver-main.ts DIR');
const s3 = await startEmbeddedS3(dir);
process.stdout.write(`READY ${s3.port}\n`);
const stop = () => void s3.close().finally(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
