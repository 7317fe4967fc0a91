// Filtered listings page like S3: the points `npm test` runs (see authz-listing-suite.ts).
import { authzListingSuite } from '../helpers/authz-listing-suite';

authzListingSuite('core');
