// Authorization over the Delta corpus: the points only `npm run test:full` runs (see authz-corpus-suite.ts).
import { authzCorpusSuite } from '../helpers/authz-corpus-suite';

authzCorpusSuite('full');
