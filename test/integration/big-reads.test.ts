// Big reads at npm test's size (96 MB unless BIG_READ_MB says otherwise), with the client-goes-away
// cases: the suite is test/helpers/big-reads-suite.ts.
import { bigReadsSuite } from '../helpers/big-reads-suite';

bigReadsSuite(Number(process.env.BIG_READ_MB ?? 96), { leaveEarly: true });
