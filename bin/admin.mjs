#!/usr/bin/env node
// delta-proxy-admin: runs lambda/admin/cli.ts through tsx's loader (same as `npm run admin --`).
import { register } from 'tsx/esm/api';

register();
const { main, processIo } = await import('../lambda/admin/cli.ts');
process.exitCode = await main(process.argv.slice(2), processIo);
