/** `npm run bench -- NAME [args]`: runs bench/NAME.ts's default export; JSON goes to stdout. */
import { readdirSync } from 'node:fs';

const names = readdirSync(import.meta.dirname)
  .filter((f) => f.endsWith('.ts') && f !== 'run.ts')
  .map((f) => f.slice(0, -3))
  .sort();
const [name, ...args] = process.argv.slice(2);
if (!name || !names.includes(name)) {
  if (name) console.error(`no benchmark "${name}"`);
  console.error(`usage: npm run bench -- <name> [args]   (runs bench/<name>.ts)\nnames: ${names.join(', ')}`);
  process.exit(2);
}
const bench = (await import(`./${name}.ts`)) as { default: (args: string[]) => Promise<unknown> | unknown };
const result = await bench.default(args);
if (result !== undefined) console.log(JSON.stringify(result, null, 2));
