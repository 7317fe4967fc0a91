// Load at CI size: the points only `npm run test:full` runs (see load-suite.ts).
import { loadSuite } from '../helpers/load-suite';

loadSuite('full');
