#!/usr/bin/env node
// delta-proxy-client: runs client/cli.ts through tsx's loader (see README, "Client helper").
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../client/cli.ts');
process.exitCode = await main(process.argv.slice(2));
