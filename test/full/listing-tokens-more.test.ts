// Listing tokens and markers over hidden keys: the points only `npm run test:full` runs (see listing-tokens-suite.ts).
import { listingTokensSuite } from '../helpers/listing-tokens-suite';

listingTokensSuite('full');
