// SigV4 from botocore and the aws cli: the points `npm test` runs (see sigv4-python-clients-suite.ts).
import { sigv4PythonClientsSuite } from '../helpers/sigv4-python-clients-suite';

sigv4PythonClientsSuite('core');
