// Load at CI size: the points `npm test` runs (see load-suite.ts).
import { loadSuite } from '../helpers/load-suite';

loadSuite('core');
