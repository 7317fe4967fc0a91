/** `npm run bench -- NAME [args]`: runs bench/NAME.ts's default export; JSON goes to stdout. */
const [name, ...args] = process.argv.slice(2);
if (!name || !/^[a-z0-9-]+$/.test(name)) {
  console.error('usage: npm run bench -- <name> [args]   (runs bench/<name>.ts)');
  process.exit(2);
}
const bench = (await import(`./${name}.ts`)) as { default: (args: string[]) => Promise<unknown> | unknown };
const result = await bench.default(args);
if (result !== undefined) console.log(JSON.stringify(result, null, 2));

export {};
