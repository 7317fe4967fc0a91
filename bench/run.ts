/** `npm run bench -- NAME [args]`: runs bench/NAME.ts's default export; each bench prints JSON. */
export {};

const [name, ...args] = process.argv.slice(2);
if (!name || !/^[a-z0-9-]+$/.test(name)) {
  process.stderr.write('usage: npm run bench -- NAME [args]   (NAME = a file bench/NAME.ts)\n');
  process.exit(2);
}
const mod = (await import(`./${name}.ts`)) as { default: (args: string[]) => Promise<void> | void };
await mod.default(args);
