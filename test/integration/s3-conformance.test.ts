// S3 conformance, proxy vs moto: the points `npm test` runs (see s3-conformance-suite.ts).
import { s3ConformanceSuite } from '../helpers/s3-conformance-suite';

s3ConformanceSuite('core');
