// Filtered listings page like S3: the points only `npm run test:full` runs (see authz-listing-suite.ts).
import { authzListingSuite } from '../helpers/authz-listing-suite';

authzListingSuite('full');
