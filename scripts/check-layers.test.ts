import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { checkFile, checkTree, LayerTableError, layerOf, packageName, parseLayerTable, scanImports } from './check-layers.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

const TABLE = `
<!-- layers:begin -->
| layer | folders | what | may import | packages |
|---|---|---|---|---|
| core | \`src/core/\` | shared values | — | — |
| io | \`src/io/\` | readers | core | \`fflate\` |
| eg3d | \`src/eg3d/\` | generator | io, core | \`@tensorflow/*\` |
| engine | \`src/engine/\` | the interface | eg3d, io, core | \`@tensorflow/*\` |
| platform | \`src/platform/\` | hosts | io, core | \`node:*\` |
| testing | \`src/testing/\` | fixtures | eg3d, io, core, platform | any |
| ui | \`src/ui/\`, \`src/main.tsx\` | studio | core, \`src/engine/types.ts\` | \`react\` |
| tools | \`scripts/\` | offline | engine, eg3d, io, core, platform, testing | any |
<!-- layers:end -->
`;

const FILES = new Set(['src/core/image.ts', 'src/io/zip.ts', 'src/eg3d/renderer.ts', 'src/engine/types.ts', 'src/engine/local-engine.ts', 'src/platform/node-file.ts', 'src/testing/fixtures.ts', 'src/ui/App.tsx', 'scripts/cli.ts']);
const exists = (p: string) => FILES.has(p);
const rules = parseLayerTable(TABLE);
const check = (path: string, src: string) => checkFile(path, src, rules, exists).map((v) => `${v.line}: ${v.specifier} — ${v.message}`);

describe('import scanner', () => {
  it('finds every kind of module reference, type-only ones included', () => {
    const src = [
      "import * as tf from '@tensorflow/tfjs';",
      "import type { A } from './a.ts';",
      "import d, { e as f } from \"./d.ts\";",
      "import './side-effect.ts';",
      "export * from './star.ts';",
      'export { x, type Y } from',
      "  './multi-line.ts';",
      "const m = await import('./dynamic.ts');",
      "type T = typeof import('./type-query.ts');",
      "const w = new Worker(new URL('./engine.worker.ts', import.meta.url));",
      "const r = require('./required.cjs');",
    ].join('\n');
    expect(scanImports(src).map((r) => [r.specifier, r.kind, r.line])).toEqual([
      ['@tensorflow/tfjs', 'static', 1],
      ['./a.ts', 'static', 2],
      ['./d.ts', 'static', 3],
      ['./side-effect.ts', 'static', 4],
      ['./star.ts', 'static', 5],
      ['./multi-line.ts', 'static', 7],
      ['./dynamic.ts', 'dynamic', 8],
      ['./type-query.ts', 'dynamic', 9],
      ['./engine.worker.ts', 'url', 10],
      ['./required.cjs', 'require', 11],
    ]);
  });

  it('ignores import-like text in comments, strings, templates and regular expressions', () => {
    const src = [
      "// import x from './commented.ts';",
      "/* import y from './block.ts'; */",
      "const s = \"import z from './in-string.ts'\";",
      "const t = `import q from './in-template.ts' ${count} and ${ `nested import('./nested.ts')` }`;",
      "const re = /from '.\\/regex.ts'/g;",
      "const arr = Array.from('abc');",
      "const u = new URL('../../data/', import.meta.url);",
      "if (a / b > 1) c = d / e;",
      "import { real } from './real.ts';",
    ].join('\n');
    expect(scanImports(src).map((r) => r.specifier)).toEqual(['../../data/', './real.ts']);
  });

  it('flags a dynamic import of a computed specifier, and recovers from JSX text on the next line', () => {
    expect(scanImports("const name = 'node:fs';\nawait import(/* @vite-ignore */ name);")).toEqual([{ specifier: null, kind: 'dynamic', line: 2 }]);
    const tsx = ["const el = <p>Don't panic</p>;", "import { later } from './later.ts';"].join('\n');
    expect(scanImports(tsx).map((r) => r.specifier)).toEqual(['./later.ts']);
  });

  it('names packages and Node built-ins', () => {
    expect(packageName('@tensorflow/tfjs-backend-wasm/dist/x.wasm?url')).toBe('@tensorflow/tfjs-backend-wasm');
    expect(packageName('nsfwjs/models/mobilenet_v2')).toBe('nsfwjs');
    expect(packageName('node:fs/promises')).toBe('node:fs');
    expect(packageName('fs')).toBe('node:fs');
    expect(packageName('./local.ts')).toBeNull();
  });
});

describe('layer rules', () => {
  it('accepts imports the table allows', () => {
    expect(check('src/eg3d/x.ts', "import * as tf from '@tensorflow/tfjs';\nimport { a } from '../io/zip.ts';\nimport { b } from './renderer.ts';")).toEqual([]);
    expect(check('src/ui/x.tsx', "import type { AdapterEngine } from '../engine/types.ts';\nimport { useState } from 'react';")).toEqual([]);
    expect(check('src/main.tsx', "import { App } from './ui/App.tsx';")).toEqual([]);
  });

  it('catches an import against the table: a higher layer, a package, Node in the core, a hidden dependency', () => {
    expect(check('src/core/x.ts', "import type { RgbaImage } from '../engine/types.ts';")).toEqual(['1: ../engine/types.ts — layer core may not import engine (src/engine/types.ts)']);
    expect(check('src/eg3d/x.ts', "import { readFileSync } from 'node:fs';")).toEqual(["1: node:fs — layer eg3d may not import package 'node:fs'"]);
    expect(check('src/io/x.ts', "import * as tf from '@tensorflow/tfjs';")).toEqual(["1: @tensorflow/tfjs — layer io may not import package '@tensorflow/tfjs'"]);
    expect(check('src/engine/x.ts', "import { f } from '../platform/node-file.ts';")).toEqual(['1: ../platform/node-file.ts — layer engine may not import platform (src/platform/node-file.ts)']);
    expect(check('src/engine/x.ts', 'const fs = await import(name);')).toEqual(['1: (computed) — dynamic import of a computed specifier hides a dependency; layer engine may not use one']);
    // The UI may import the engine's types file, not the engine.
    expect(check('src/ui/x.ts', "import { LocalEngine } from '../engine/local-engine.ts';")).toEqual(['1: ../engine/local-engine.ts — layer ui may not import engine (src/engine/local-engine.ts)']);
    // Nothing but tools may import tools.
    expect(check('src/engine/x.ts', "import { run } from '../../scripts/cli.ts';")).toEqual(['1: ../../scripts/cli.ts — layer engine may not import tools (scripts/cli.ts)']);
  });

  it('lets tests reach every layer below theirs, platform and testing, but not above', () => {
    expect(check('src/eg3d/x.test.ts', "import { f } from '../platform/node-file.ts';\nimport { g } from '../testing/fixtures.ts';\nimport { z } from '../core/image.ts';\nimport fs from 'node:fs';")).toEqual([]);
    expect(check('src/eg3d/x.test.ts', "import type { E } from '../engine/types.ts';")).toEqual(['1: ../engine/types.ts — layer eg3d (test) may not import engine (src/engine/types.ts)']);
    expect(check('src/engine/x.test.ts', "import { z } from '../io/zip.ts';")).toEqual([]);
  });

  it('refuses files outside the table and imports of files that do not exist', () => {
    expect(check('src/nowhere/x.ts', '')).toEqual(['1:  — this file is in no layer of the table']);
    expect(check('src/eg3d/x.ts', "import { a } from './missing.ts';")).toEqual(['1: ./missing.ts — no such file src/eg3d/missing.ts (imports name the file, with its extension)']);
    expect(layerOf('src/main.tsx', rules)?.name).toBe('ui');
  });

  it('refuses a table it cannot read', () => {
    expect(() => parseLayerTable('no markers')).toThrow(LayerTableError);
    expect(() => parseLayerTable(TABLE.replace('| core | `src/core/` | shared values | — | — |', '| core | `src/core/` | shared values | kernel | — |'))).toThrow(/unknown layer 'kernel'/);
    expect(() => parseLayerTable(TABLE.replace('may import', 'uses'))).toThrow(/header/);
  });
});

describe('this repository against docs/architecture.md', () => {
  it('has no import against the table', () => {
    const { files, violations } = checkTree(ROOT);
    expect(files).toBeGreaterThan(100);
    expect(violations).toEqual([]);
  });

  it('would catch the leaks issue 11 removed (a CLIP module importing the engine, Node I/O in the engine)', () => {
    const table = parseLayerTable(readFileSync(join(ROOT, 'docs/architecture.md'), 'utf8'));
    const real = (p: string) => {
      try {
        readFileSync(join(ROOT, p));
        return true;
      } catch {
        return false;
      }
    };
    const clip = readFileSync(join(ROOT, 'src/clip/encoder.ts'), 'utf8');
    const leak = checkFile('src/clip/encoder.ts', `${clip}\nimport type { RgbaImage as Old } from '../engine/types.ts';\n`, table, real);
    expect(leak.map((v) => v.message)).toEqual(['layer clip may not import engine (src/engine/types.ts)']);
    const engine = "import { readFile } from 'node:fs/promises';\nconst m = await import(/* @vite-ignore */ fsName);";
    expect(checkFile('src/engine/embedded.ts', engine, table, real).map((v) => v.message)).toEqual([
      "layer engine may not import package 'node:fs'",
      'dynamic import of a computed specifier hides a dependency; layer engine may not use one',
    ]);
    expect(checkFile('src/demo/train.ts', "import { NamedAdam } from '../nn/adam.ts';", table, real)).toEqual([]);
    expect(checkFile('src/engine/x.ts', "import { DemoTrainer } from '../demo/train.ts';", table, real).map((v) => v.message)).toEqual(['layer engine may not import tools (src/demo/train.ts)']);
  });
});

describe('import scanner against the TypeScript compiler', () => {
  it('finds every module reference tsc resolves in src/, scripts/ and e2e/', () => {
    // tsc --explainFiles prints, for every file it loads, "Imported via '<specifier>' from file '<importer>'".
    const tsc = spawnSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '--noEmit', '-p', join(ROOT, 'tsconfig.json'), '--explainFiles'], { cwd: ROOT, encoding: 'utf8', maxBuffer: 64 << 20 });
    const edges = new Set<string>();
    for (const m of tsc.stdout.matchAll(/Imported via '([^']+)' from file '([^']+)'/g)) if (/^(src|scripts|e2e)\//.test(m[2])) edges.add(`${m[2]} -> ${m[1]}`);
    expect(edges.size).toBeGreaterThan(500);
    const files = new Set([...edges].map((e) => e.split(' -> ')[0]));
    const found = new Set<string>();
    for (const f of files) for (const r of scanImports(readFileSync(join(ROOT, f), 'utf8'))) if (r.specifier !== null) found.add(`${f} -> ${r.specifier}`);
    expect([...edges].filter((e) => !found.has(e))).toEqual([]);
  });
});
