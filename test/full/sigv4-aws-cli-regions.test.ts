// SigV4 from the aws cli: the regions only `npm run test:full` runs (see sigv4-python-clients-suite.ts).
import { sigv4PythonClientsSuite } from '../helpers/sigv4-python-clients-suite';

sigv4PythonClientsSuite('full');
