// Retained history of the Delta corpus: the points `npm test` runs (see history-corpus-suite.ts).
import { historyCorpusSuite } from '../helpers/history-corpus-suite';

historyCorpusSuite('core');
