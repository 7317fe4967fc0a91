// Retained history of the Delta corpus: the points only `npm run test:full` runs (see history-corpus-suite.ts).
import { historyCorpusSuite } from '../helpers/history-corpus-suite';

historyCorpusSuite('full');
