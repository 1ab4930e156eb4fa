/**
 * npm run cli -- <command> [...args]
 * Each command lives in scripts/cli/<command>.ts and exports `run(argv: string[]): Promise<void>`.
 */
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

async function main() {
  const [cmd, ...rest] = process.argv.slice(2);
  const available = readdirSync(join(here, 'cli'))
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))
    .map((f) => f.replace(/\.ts$/, ''));
  if (!cmd || !available.includes(cmd)) {
    console.error(`usage: npm run cli -- <${available.join('|')}> ...`);
    process.exit(cmd ? 1 : 0);
  }
  const file = join(here, 'cli', `${cmd}.ts`);
  if (!existsSync(file)) throw new Error(`unknown command ${cmd}`);
  const mod = (await import(file)) as { run: (argv: string[]) => Promise<void> };
  await mod.run(rest);
  process.exit(0);
}

main().catch((e) => {
  console.error(`error: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
