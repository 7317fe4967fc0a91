// Every test process talks to 127.0.0.1 only: no credential chain, no EC2 metadata probe,
// no EMF environment detection.
import { existsSync } from 'node:fs';
import { delimiter, resolve } from 'node:path';

process.env.AWS_EC2_METADATA_DISABLED = 'true';
process.env.AWS_EMF_ENVIRONMENT = 'Local';
process.env.AWS_ACCESS_KEY_ID ??= 'test-backend-key';
process.env.AWS_SECRET_ACCESS_KEY ??= 'test-backend-secret';
process.env.AWS_REGION ??= 'us-east-1';
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

// The Python clients come from the project's virtual environment when there is one (.ci/run
// makes it from test/python-requirements.txt): `python3` and `aws` in child processes find it first.
const venvBin = resolve(import.meta.dirname, '../../.venv/bin');
if (existsSync(venvBin) && !process.env.PATH?.split(delimiter).includes(venvBin)) {
  process.env.PATH = `${venvBin}${delimiter}${process.env.PATH ?? ''}`;
}
