// The figures an architecture review asks for, measured on a checkout: files and lines per
// folder of src/, the largest files, the longest functions (any function, method or arrow
// body, by the TypeScript compiler's own parse), and the cross-folder imports: how many
// bypass the target folder's index.ts and how many run against DESIGN.md's direction.
// Usage: node --import tsx scripts/architecture-figures.ts [CHECKOUT] [--json]
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

import ts from 'typescript';

const args = process.argv.slice(2);
const root = path.resolve(args.find((arg) => !arg.startsWith('--')) ?? '.');
const src = path.join(root, 'src');

/**
 * DESIGN.md's floors: a folder may import only from its own floor or below. The review's
 * coarse yardstick, kept so that older checkouts (with `resources/`) measure alike; the
 * table lint enforces, folder by folder, is MAY_IMPORT in eslint.config.js.
 */
const FLOOR: Record<string, number> = {
  // leaves
  '(root errors.ts)': 0,
  config: 0,
  observability: 0,
  crypto: 0,
  db: 1,
  // core
  audit: 2,
  accounts: 2,
  clients: 2,
  abuse: 2,
  oidc: 3,
  // surfaces
  interactions: 4,
  'account-api': 4,
  resources: 4,
  admin: 4,
  // cross-cutting middleware: imports no feature, and features may use it (as in
  // eslint.config.js's MAY_IMPORT)
  http: 1,
  // entry points and the assembly
  cli: 5,
  '(root)': 5,
};

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    if (name === 'generated') return [];
    if (statSync(full).isDirectory()) return walk(full);
    return name.endsWith('.ts') ? [full] : [];
  });
}

function folderOf(file: string): string {
  const relative = path.relative(src, file);
  const [first, ...rest] = relative.split(path.sep);
  if (rest.length === 0) return first === 'errors.ts' ? '(root errors.ts)' : '(root)';
  return first!;
}

const files = walk(src).sort();
const lines = new Map(files.map((file) => [file, readFileSync(file, 'utf8').split('\n').length]));

const perFolder = new Map<string, { files: number; lines: number }>();
for (const file of files) {
  const folder = folderOf(file);
  const entry = perFolder.get(folder) ?? { files: 0, lines: 0 };
  entry.files += 1;
  entry.lines += lines.get(file)!;
  perFolder.set(folder, entry);
}

const functions: { name: string; lines: number }[] = [];
const imports = { crossFolder: 0, bypassIndex: 0, upward: [] as string[] };
for (const file of files) {
  const text = readFileSync(file, 'utf8');
  const sourceFile = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const visit = (node: ts.Node, owner: string) => {
    let name = owner;
    if (ts.isFunctionDeclaration(node) || ts.isMethodDeclaration(node) || ts.isArrowFunction(node) || ts.isFunctionExpression(node)) {
      const declared = (node as { name?: ts.Node }).name;
      const parent = node.parent;
      name = declared?.getText(sourceFile) ?? (ts.isVariableDeclaration(parent) || ts.isPropertyAssignment(parent) ? parent.name.getText(sourceFile) : '(anonymous)');
      name = owner ? `${owner} > ${name}` : name;
      const start = sourceFile.getLineAndCharacterOfPosition(node.getStart(sourceFile)).line;
      const end = sourceFile.getLineAndCharacterOfPosition(node.getEnd()).line;
      functions.push({ name: `${path.relative(root, file)}:${start + 1} ${name}`, lines: end - start + 1 });
    }
    ts.forEachChild(node, (child) => visit(child, name));
  };
  visit(sourceFile, '');

  for (const statement of sourceFile.statements) {
    if (!ts.isImportDeclaration(statement) && !ts.isExportDeclaration(statement)) continue;
    const specifier = statement.moduleSpecifier;
    if (!specifier || !ts.isStringLiteral(specifier) || !specifier.text.startsWith('.')) continue;
    const target = path.resolve(path.dirname(file), specifier.text);
    if (!target.startsWith(src)) continue;
    const from = folderOf(file);
    const to = folderOf(target);
    if (from === to) continue;
    imports.crossFolder += 1;
    const base = path.basename(target);
    if (to !== '(root)' && to !== '(root errors.ts)' && base !== 'index.ts') imports.bypassIndex += 1;
    const typeOnly = ts.isImportDeclaration(statement) && statement.importClause?.isTypeOnly === true;
    if ((FLOOR[to] ?? 0) > (FLOOR[from] ?? 0)) {
      imports.upward.push(`${path.relative(root, file)} -> ${path.relative(root, target)}${typeOnly ? ' (type)' : ''}`);
    }
  }
}

const largest = [...lines].sort((a, b) => b[1] - a[1]).slice(0, 10).map(([file, count]) => ({ file: path.relative(root, file), lines: count }));
const longest = functions.sort((a, b) => b.lines - a.lines);
const report = {
  checkout: root,
  files: files.length,
  lines: [...lines.values()].reduce((a, b) => a + b, 0),
  medianLines: [...lines.values()].sort((a, b) => a - b)[Math.floor(files.length / 2)],
  perFolder: Object.fromEntries([...perFolder].sort()),
  largest,
  functionsOver50: longest.filter((f) => f.lines > 50).length,
  functionsOver100: longest.filter((f) => f.lines > 100),
  longest: longest.slice(0, 10),
  imports,
};

if (args.includes('--json')) {
  console.log(JSON.stringify(report, null, 2));
} else {
  console.log(`${report.files} files, ${report.lines} lines (median ${report.medianLines}) in ${path.relative(process.cwd(), src) || src}`);
  console.log('\nfolder               files  lines');
  for (const [folder, entry] of Object.entries(report.perFolder)) console.log(`${folder.padEnd(20)} ${String(entry.files).padStart(5)} ${String(entry.lines).padStart(6)}`);
  console.log('\nlargest files');
  for (const entry of report.largest) console.log(`  ${String(entry.lines).padStart(5)}  ${entry.file}`);
  console.log(`\nfunctions over 50 lines: ${report.functionsOver50}; over 100: ${report.functionsOver100.length}`);
  for (const entry of report.longest) console.log(`  ${String(entry.lines).padStart(5)}  ${entry.name}`);
  console.log(`\ncross-folder imports: ${imports.crossFolder}; bypassing index.ts: ${imports.bypassIndex}; against the direction: ${imports.upward.length}`);
  for (const entry of imports.upward) console.log(`  ${entry}`);
}
