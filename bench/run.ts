// `npm run bench -- NAME` runs bench/NAME.ts; each benchmark prints one JSON document to stdout.
const name = process.argv[2];
if (!name || !/^[a-z0-9-]+$/.test(name)) {
  console.error('usage: npm run bench -- NAME   (runs bench/NAME.ts)');
  process.exit(2);
}
const bench = (await import(`./${name}.ts`)) as { default: () => Promise<void> | void };
await bench.default();

export {};
