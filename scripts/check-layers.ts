/**
 * npm run typecheck (and so npm test) runs this: every import in src/, scripts/ and e2e/ is checked
 * against the layer table in docs/architecture.md — the table *is* the rule, so the two cannot drift.
 *
 * The table (between `<!-- layers:begin -->` and `<!-- layers:end -->`) has the columns
 * `layer | folders | what | may import | packages`:
 * - folders: backticked folders (ending in `/`) or files; a file belongs to the longest match;
 * - may import: layer names, or backticked files of another layer (only that file may be imported),
 *   or `—`; a layer may always import itself;
 * - packages: backticked npm package names, `@scope/*`, `node:*` (Node built-ins), or `any`, or `—`.
 * Tests (`*.test.ts(x)`) may also import every layer below their own (the closure of its may-import
 * list), `platform` and `testing`, and any package.
 *
 * Imports are found by a small tokenizer (comments, strings, template literals and regular
 * expressions are skipped, so an import-like text inside them is not an import): static
 * `import … from`, `export … from`, side-effect `import '…'`, `import('…')` and `typeof import('…')`
 * (type-only imports count: types are dependencies too), `require('…')`, and
 * `new URL('…', import.meta.url)` pointing at source files (how Vite bundles a worker). A dynamic
 * import of a computed specifier hides a dependency and is refused outside layers whose packages are
 * `any`.
 */
import { readFileSync, readdirSync, statSync, existsSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

// ---------------------------------------------------------------- import scanner

export type ImportKind = 'static' | 'dynamic' | 'require' | 'url';

export interface ImportRef {
  /** The module specifier; null for a dynamic import of a computed expression. */
  specifier: string | null;
  kind: ImportKind;
  /** 1-based line of the specifier. */
  line: number;
}

type Token =
  | { t: 'id'; v: string; line: number }
  | { t: 'str'; v: string; line: number }
  | { t: 'tpl'; line: number } // a template literal (or its head): never a module specifier we accept
  | { t: 'punct'; v: string; line: number }
  | { t: 'num' | 'regex'; line: number };

const REGEX_AFTER_KEYWORD = new Set(['return', 'typeof', 'instanceof', 'in', 'of', 'new', 'delete', 'void', 'throw', 'case', 'do', 'else', 'yield', 'await']);
const ID_START = /[\p{ID_Start}$_\\]/u;
const ID_PART = /[\p{ID_Continue}$\u200c\u200d\\]/u;

/**
 * Splits TS/TSX source into the tokens the import patterns need. Strings and regular expressions end
 * at a line break (as in JS), so a tokenizer confused by JSX text (`don't`) recovers on the next line.
 */
export function tokenize(src: string): Token[] {
  const out: Token[] = [];
  // What a `}` closes: a plain brace, or a `${` inside a template literal.
  const braces: ('brace' | 'tpl')[] = [];
  let i = 0;
  let line = 1;
  const n = src.length;

  const regexAllowed = (): boolean => {
    const p = out[out.length - 1];
    if (!p) return true;
    if (p.t === 'id') return REGEX_AFTER_KEYWORD.has(p.v);
    if (p.t !== 'punct') return false; // after a literal: division
    return !(p.v === ')' || p.v === ']' || p.v === '}');
  };

  /** Scans template characters from i (just after ` or the } closing a `${`); leaves i after the closing ` or the `${`. */
  const scanTemplate = (): void => {
    const startLine = line;
    while (i < n) {
      const c = src[i];
      if (c === '\\') {
        if (src[i + 1] === '\n') line++;
        i += 2;
      } else if (c === '`') {
        i++;
        out.push({ t: 'tpl', line: startLine });
        return;
      } else if (c === '$' && src[i + 1] === '{') {
        i += 2;
        braces.push('tpl');
        out.push({ t: 'tpl', line: startLine });
        return;
      } else {
        if (c === '\n') line++;
        i++;
      }
    }
    out.push({ t: 'tpl', line: startLine });
  };

  while (i < n) {
    const c = src[i];
    if (c === '\n') {
      line++;
      i++;
    } else if (c === ' ' || c === '\t' || c === '\r' || c === '\f' || c === '\v' || c === '\ufeff' || c === '\u00a0') {
      i++;
    } else if (c === '/' && src[i + 1] === '/') {
      while (i < n && src[i] !== '\n') i++;
    } else if (c === '/' && src[i + 1] === '*') {
      const end = src.indexOf('*/', i + 2);
      const stop = end < 0 ? n : end + 2;
      for (let k = i; k < stop; k++) if (src[k] === '\n') line++;
      i = stop;
    } else if (c === '"' || c === "'") {
      let v = '';
      i++;
      while (i < n && src[i] !== c && src[i] !== '\n') {
        if (src[i] === '\\') {
          if (src[i + 1] === '\n') line++;
          v += src[i + 1] ?? '';
          i += 2;
        } else v += src[i++];
      }
      if (src[i] === c) i++;
      out.push({ t: 'str', v, line });
    } else if (c === '`') {
      i++;
      scanTemplate();
    } else if (c === '/' && regexAllowed()) {
      let inClass = false;
      i++;
      while (i < n && src[i] !== '\n') {
        const d = src[i];
        if (d === '\\') i += 2;
        else {
          i++;
          if (d === '[') inClass = true;
          else if (d === ']') inClass = false;
          else if (d === '/' && !inClass) break;
        }
      }
      while (i < n && ID_PART.test(src[i])) i++;
      out.push({ t: 'regex', line });
    } else if (ID_START.test(c) || c.charCodeAt(0) >= 0xd800) {
      const start = i;
      i++;
      while (i < n && (ID_PART.test(src[i]) || (src.charCodeAt(i) >= 0xd800 && src.charCodeAt(i) <= 0xdfff))) i++;
      out.push({ t: 'id', v: src.slice(start, i), line });
    } else if (c >= '0' && c <= '9') {
      while (i < n && /[\w.]/.test(src[i])) i++;
      out.push({ t: 'num', line });
    } else if (c === '.' && src[i + 1] >= '0' && src[i + 1] <= '9') {
      i++;
      while (i < n && /[\w.]/.test(src[i])) i++;
      out.push({ t: 'num', line });
    } else if (c === '{') {
      braces.push('brace');
      out.push({ t: 'punct', v: c, line });
      i++;
    } else if (c === '}') {
      i++;
      if (braces.pop() === 'tpl') scanTemplate();
      else out.push({ t: 'punct', v: c, line });
    } else {
      // `?.` must not read as `?` then a number; other multi-character operators do not matter here.
      const v = c === '?' && src[i + 1] === '.' && !(src[i + 2] >= '0' && src[i + 2] <= '9') ? '?.' : c;
      out.push({ t: 'punct', v, line });
      i += v.length;
    }
  }
  return out;
}

const isPunct = (tok: Token | undefined, v: string): boolean => tok?.t === 'punct' && tok.v === v;
const isId = (tok: Token | undefined, v: string): boolean => tok?.t === 'id' && tok.v === v;

/** Every module reference in a TS/TSX source text, in order. */
export function scanImports(src: string): ImportRef[] {
  const toks = tokenize(src);
  const refs: ImportRef[] = [];
  for (let k = 0; k < toks.length; k++) {
    const tok = toks[k];
    if (tok.t !== 'id') continue;
    const prev = toks[k - 1];
    const next = toks[k + 1];
    const memberAccess = isPunct(prev, '.') || isPunct(prev, '?.');
    if (memberAccess) continue;
    if (tok.v === 'from' && next?.t === 'str') {
      // `from` followed by a string literal only occurs in import / export declarations.
      refs.push({ specifier: next.v, kind: 'static', line: next.line });
    } else if (tok.v === 'import' && next?.t === 'str') {
      refs.push({ specifier: next.v, kind: 'static', line: next.line });
    } else if (tok.v === 'import' && isPunct(next, '(')) {
      const arg = toks[k + 2];
      const after = toks[k + 3];
      if (arg?.t === 'str' && (isPunct(after, ')') || isPunct(after, ','))) refs.push({ specifier: arg.v, kind: 'dynamic', line: arg.line });
      else refs.push({ specifier: null, kind: 'dynamic', line: tok.line });
    } else if (tok.v === 'require' && isPunct(next, '(') && toks[k + 2]?.t === 'str' && isPunct(toks[k + 3], ')')) {
      const arg = toks[k + 2] as { v: string; line: number };
      refs.push({ specifier: arg.v, kind: 'require', line: arg.line });
    } else if (tok.v === 'new' && isId(next, 'URL') && isPunct(toks[k + 2], '(') && toks[k + 3]?.t === 'str' && isPunct(toks[k + 4], ',')) {
      // new URL('…', import.meta.url)
      if (isId(toks[k + 5], 'import') && isPunct(toks[k + 6], '.') && isId(toks[k + 7], 'meta') && isPunct(toks[k + 8], '.') && isId(toks[k + 9], 'url')) {
        const arg = toks[k + 3] as { v: string; line: number };
        refs.push({ specifier: arg.v, kind: 'url', line: arg.line });
      }
    }
  }
  return refs;
}

// ---------------------------------------------------------------- the layer table

export interface LayerRule {
  name: string;
  /** Folders (ending in '/') and files, relative to the repository root. */
  paths: string[];
  /** Layers this one may import. */
  layers: string[];
  /** Single files of other layers this one may import. */
  files: string[];
  /** Package patterns: exact names, '@scope/*', 'node:*'; null = any package. */
  packages: string[] | null;
}

export class LayerTableError extends Error {
  constructor(message: string) {
    super(`docs/architecture.md layer table: ${message}`);
    this.name = 'LayerTableError';
  }
}

const NONE = new Set(['—', '-', '–', '']);
const backticked = (cell: string): string[] => [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]);

/** Parses the table between the layers:begin / layers:end markers; throws on anything it cannot read. */
export function parseLayerTable(markdown: string): LayerRule[] {
  const begin = markdown.indexOf('<!-- layers:begin -->');
  const end = markdown.indexOf('<!-- layers:end -->');
  if (begin < 0 || end < begin) throw new LayerTableError('markers <!-- layers:begin --> … <!-- layers:end --> not found');
  const lines = markdown
    .slice(begin, end)
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.startsWith('|'));
  const cells = (l: string) => l.slice(1, l.endsWith('|') ? -1 : undefined).split('|').map((c) => c.trim());
  const header = cells(lines[0] ?? '').map((h) => h.toLowerCase());
  const want = ['layer', 'folders', 'what', 'may import', 'packages'];
  if (want.some((w, i) => header[i] !== w)) throw new LayerTableError(`header must be | ${want.join(' | ')} | (got | ${header.join(' | ')} |)`);
  const rules: LayerRule[] = [];
  for (const l of lines.slice(2)) {
    const [name, folders, , mayImport, packages] = cells(l);
    if (!name || !/^[a-z][a-z0-9-]*$/.test(name)) throw new LayerTableError(`row "${l}": layer name must be a lower-case word`);
    const paths = backticked(folders);
    if (paths.length === 0) throw new LayerTableError(`layer ${name}: no backticked folders`);
    const files = backticked(mayImport);
    const layers = NONE.has(mayImport)
      ? []
      : mayImport
          .replace(/`[^`]*`/g, '')
          .split(',')
          .map((s) => s.trim())
          .filter((s) => s.length > 0);
    const pk = packages.trim();
    rules.push({ name, paths, layers, files, packages: pk === 'any' ? null : NONE.has(pk) ? [] : backticked(pk) });
  }
  const names = new Set(rules.map((r) => r.name));
  if (names.size !== rules.length) throw new LayerTableError('a layer name appears twice');
  for (const r of rules) {
    for (const d of r.layers) if (!names.has(d)) throw new LayerTableError(`layer ${r.name} may import unknown layer '${d}'`);
  }
  for (const r of rules) for (const f of r.files) if (!layerOf(f, rules)) throw new LayerTableError(`layer ${r.name} may import ${f}, which is in no layer`);
  return rules;
}

/** The layer a repository-relative path belongs to (longest folder/file match), or null. */
export function layerOf(path: string, rules: LayerRule[]): LayerRule | null {
  let best: LayerRule | null = null;
  let bestLen = -1;
  for (const r of rules) {
    for (const p of r.paths) {
      const hit = p.endsWith('/') ? path.startsWith(p) : path === p;
      if (hit && p.length > bestLen) {
        best = r;
        bestLen = p.length;
      }
    }
  }
  return best;
}

/** Layers reachable from `rule` through may-import lists (not including itself unless a cycle). */
function closure(rule: LayerRule, byName: Map<string, LayerRule>): Set<string> {
  const seen = new Set<string>();
  const todo = [...rule.layers];
  while (todo.length) {
    const l = todo.pop()!;
    if (seen.has(l)) continue;
    seen.add(l);
    todo.push(...byName.get(l)!.layers);
  }
  return seen;
}

// ---------------------------------------------------------------- checking

export interface Violation {
  file: string;
  line: number;
  specifier: string;
  message: string;
}

const BUILTINS = new Set(builtinModules.filter((m) => !m.startsWith('_')));

/** 'node:fs' for built-ins (with or without the prefix), else the npm package name; null for relative paths. */
export function packageName(specifier: string): string | null {
  if (specifier.startsWith('.') || specifier.startsWith('/')) return null;
  const bare = specifier.split('?')[0];
  if (bare.startsWith('node:')) return `node:${bare.slice(5).split('/')[0]}`;
  const parts = bare.split('/');
  const name = bare.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
  if (BUILTINS.has(name)) return `node:${name}`;
  return name;
}

function packageAllowed(name: string, patterns: string[] | null): boolean {
  if (patterns === null) return true;
  return patterns.some((p) => (p.endsWith('*') ? name.startsWith(p.slice(0, -1)) : name === p));
}

const SOURCE = /\.(ts|tsx|mts|cts|js|mjs|jsx)$/;
export const isTestFile = (path: string): boolean => /\.test\.tsx?$/.test(path);

/**
 * Checks one file's imports. `path` is repository-relative with '/' separators; `exists` tells whether
 * a repository-relative path is a file (relative imports must resolve to one).
 */
export function checkFile(path: string, source: string, rules: LayerRule[], exists: (p: string) => boolean): Violation[] {
  const out: Violation[] = [];
  const rule = layerOf(path, rules);
  if (!rule) return [{ file: path, line: 1, specifier: '', message: 'this file is in no layer of the table' }];
  const byName = new Map(rules.map((r) => [r.name, r]));
  const test = isTestFile(path);
  const allowedLayers = new Set([rule.name, ...rule.layers]);
  if (test) for (const l of [...closure(rule, byName), 'platform', 'testing']) if (byName.has(l)) allowedLayers.add(l);
  const packages = test ? null : rule.packages;
  const dir = path.includes('/') ? path.slice(0, path.lastIndexOf('/')) : '';

  for (const ref of scanImports(source)) {
    const at = { file: path, line: ref.line, specifier: ref.specifier ?? '(computed)' };
    if (ref.specifier === null) {
      if (packages !== null) out.push({ ...at, message: `dynamic import of a computed specifier hides a dependency; layer ${rule.name} may not use one` });
      continue;
    }
    const pkg = packageName(ref.specifier);
    if (pkg !== null) {
      if (ref.kind === 'url') continue; // new URL('pkg', import.meta.url) is not a package reference
      if (!packageAllowed(pkg, packages)) out.push({ ...at, message: `layer ${rule.name} may not import package '${pkg}'` });
      continue;
    }
    const target = join(dir, ref.specifier.split('?')[0]).split(sep).join('/');
    if (ref.kind === 'url' && !SOURCE.test(target)) continue; // an asset or a data folder, not code
    if (target.startsWith('../')) {
      out.push({ ...at, message: 'resolves outside the repository' });
      continue;
    }
    if (!exists(target)) {
      out.push({ ...at, message: `no such file ${target} (imports name the file, with its extension)` });
      continue;
    }
    const to = layerOf(target, rules);
    if (!to) {
      out.push({ ...at, message: `${target} is in no layer of the table` });
      continue;
    }
    if (allowedLayers.has(to.name) || rule.files.includes(target)) continue;
    out.push({ ...at, message: `layer ${rule.name}${test ? ' (test)' : ''} may not import ${to.name} (${target})` });
  }
  return out;
}

function walk(root: string, dir: string, acc: string[]): void {
  for (const e of readdirSync(join(root, dir), { withFileTypes: true })) {
    const rel = dir ? `${dir}/${e.name}` : e.name;
    if (e.isDirectory()) {
      if (e.name !== 'node_modules' && !e.name.startsWith('.')) walk(root, rel, acc);
    } else if (/\.(ts|tsx)$/.test(e.name)) acc.push(rel);
  }
}

/** Checks every .ts/.tsx file under the given top folders of `root` against the table in `docPath`. */
export function checkTree(root: string, folders = ['src', 'scripts', 'e2e'], docPath = 'docs/architecture.md'): { files: number; violations: Violation[] } {
  const rules = parseLayerTable(readFileSync(join(root, docPath), 'utf8'));
  const files: string[] = [];
  for (const f of folders) if (existsSync(join(root, f))) walk(root, f, files);
  const exists = (p: string) => {
    try {
      return statSync(join(root, p)).isFile();
    } catch {
      return false;
    }
  };
  const violations = files.flatMap((f) => checkFile(f, readFileSync(join(root, f), 'utf8'), rules, exists));
  return { files: files.length, violations };
}

function main(): void {
  const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
  const { files, violations } = checkTree(root);
  for (const v of violations) console.error(`${v.file}:${v.line}: ${v.specifier ? `'${v.specifier}': ` : ''}${v.message}`);
  if (violations.length) {
    console.error(`check-layers: ${violations.length} import(s) against the layer table in docs/architecture.md`);
    process.exit(1);
  }
  console.log(`check-layers: ${files} files follow the layer table in docs/architecture.md`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
