// Listing tokens and markers over hidden keys: the points `npm test` runs (see listing-tokens-suite.ts).
import { listingTokensSuite } from '../helpers/listing-tokens-suite';

listingTokensSuite('core');
