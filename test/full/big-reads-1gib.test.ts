// Big reads at the size: a 1 GiB object through node:http, the Lambda adapter and the client
// helper, RSS within 64 MB of idle (the suite is test/helpers/big-reads-suite.ts).
import { bigReadsSuite } from '../helpers/big-reads-suite';

bigReadsSuite(1024, { leaveEarly: false });
