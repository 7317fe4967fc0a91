// The filtered _delta_log over the Delta corpus: the points only `npm run test:full` runs (see filtered-log-corpus-suite.ts).
import { filteredLogCorpusSuite } from '../helpers/filtered-log-corpus-suite';

filteredLogCorpusSuite('full');
