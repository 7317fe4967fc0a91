// The filtered _delta_log over the Delta corpus: the points `npm test` runs (see filtered-log-corpus-suite.ts).
import { filteredLogCorpusSuite } from '../helpers/filtered-log-corpus-suite';

filteredLogCorpusSuite('core');
