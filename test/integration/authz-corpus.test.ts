// Authorization over the Delta corpus: the points `npm test` runs (see authz-corpus-suite.ts).
import { authzCorpusSuite } from '../helpers/authz-corpus-suite';

authzCorpusSuite('core');
