// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// DESIGN.md, "Imports run one way": each folder of src/ and the folders it may import.
// HTTP surfaces -> core -> leaves; http/ is cross-cutting and imports no feature; only the
// root files (app.ts, server.ts, boot.ts, services.ts, main.ts) assemble. errors.ts is for all.
const MAY_IMPORT = {
  config: [],
  crypto: ['config'],
  observability: ['config'],
  // Outgoing mail: a leaf the pages hand messages to.
  mail: ['config', 'observability'],
  db: ['config', 'observability'],
  http: ['config', 'observability', 'db'],
  audit: ['config', 'observability', 'db'],
  clients: ['config', 'observability', 'db', 'crypto', 'audit'],
  // Accounts hold roles and names by the registry's rules (clients/validation.ts).
  accounts: ['config', 'observability', 'db', 'crypto', 'audit', 'clients'],
  abuse: ['config', 'observability', 'http', 'audit', 'clients'],
  oidc: ['config', 'observability', 'db', 'crypto', 'audit', 'clients', 'accounts'],
  interactions: ['config', 'observability', 'http', 'audit', 'clients', 'accounts', 'oidc', 'abuse', 'mail'],
  'account-api': ['config', 'observability', 'http', 'audit', 'clients', 'accounts', 'oidc', 'abuse'],
  // The admin API protects itself as the account API does (its requireAccessToken).
  'admin-api': ['config', 'observability', 'http', 'db', 'audit', 'clients', 'accounts', 'oidc', 'abuse', 'account-api'],
  // The admin console is a page surface over the admin API's services and views, signed in as the account page is.
  'admin-console': ['config', 'observability', 'http', 'db', 'audit', 'clients', 'accounts', 'oidc', 'interactions', 'account-page', 'admin-api'],
  cli: ['config', 'observability', 'db', 'crypto', 'audit', 'clients', 'accounts', 'oidc'],
  // The account page is a page surface: it builds its forms and texts as the sign-in pages do.
  'account-page': ['config', 'observability', 'http', 'audit', 'clients', 'accounts', 'oidc', 'abuse', 'mail', 'interactions'],
};
const FOLDERS = Object.keys(MAY_IMPORT);
const ROOT_FILES = ['app', 'server', 'boot', 'services', 'main'];
// The CLI builds its services from boot.ts and services.ts, never the HTTP assembly.
const ROOT_FILES_ALLOWED = { cli: ['boot', 'services'] };
// Light leaves the CLI loads without the rest of their folder (prom-client, the engine).
const DEEP_IMPORTS_ALLOWED = ['observability/logger.ts', 'observability/redact.ts', 'observability/instrument-pool.ts', 'oidc/store/index.ts'];

const escape = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const notAllowedDeep = DEEP_IMPORTS_ALLOWED.map((path) => `(?!${escape(path)}$)`).join('');
/** Reaching past another folder's index.ts (prefix: how a file of this place climbs to src/). */
const throughIndex = (prefix) => ({
  regex: `^${prefix}${notAllowedDeep}(${FOLDERS.map(escape).join('|')})/(?!index\\.ts$)`,
  message: "Import another folder through its index.ts (DESIGN.md, Layout).",
});
const noTests = { regex: '(^|/)test/', message: 'src/ never imports test/.' };
// Paths that would slip past the patterns above: a detour through src/ itself, or a
// `.js` ending (TypeScript resolves it to the .ts file).
const plainPaths = [
  { regex: '(^|/)src/', message: 'Import by the shortest relative path, not through src/.' },
  { regex: '^\\.{1,2}/.*\\.js$', message: 'Import our modules by their .ts name.' },
];
/** How a file of a folder climbs to src/ (`../`, `../../`, also written `./../`). */
const UP = '(\\./)?(\\.\\./)+';

const importDirection = [
  ...FOLDERS.map((folder) => {
    const forbidden = FOLDERS.filter((other) => other !== folder && !MAY_IMPORT[folder].includes(other));
    const rootFiles = ROOT_FILES.filter((name) => !(ROOT_FILES_ALLOWED[folder] ?? []).includes(name));
    return {
      files: [`src/${folder}/**/*.ts`],
      rules: {
        'no-restricted-imports': ['error', {
          patterns: [
            ...(forbidden.length ? [{
              regex: `^${UP}(${forbidden.map(escape).join('|')})(/|\\.ts$)`,
              message: `${folder}/ may import only ${MAY_IMPORT[folder].join(', ') || 'nothing of src/'} (and errors.ts): DESIGN.md, "Imports run one way".`,
            }] : []),
            { regex: `^${UP}(${rootFiles.join('|')})\\.ts$`, message: 'Only the root files assemble; a folder never imports them.' },
            throughIndex(UP),
            noTests,
            ...plainPaths,
          ],
        }],
        // import() is not checked by the rule above: a folder never loads a module outside itself lazily.
        'no-restricted-syntax': ['error', {
          selector: 'ImportExpression[source.value=/^(\\.\\/)?\\.\\./]',
          message: 'A folder loads other folders by static import, through their index.ts (only the root files load lazily).',
        }],
      },
    };
  }),
  { files: ['src/*.ts'], rules: { 'no-restricted-imports': ['error', { patterns: [throughIndex('\\./'), noTests, ...plainPaths] }] } },
  // errors.ts is the leaf of leaves.
  { files: ['src/errors.ts'], rules: { 'no-restricted-imports': ['error', { patterns: [{ regex: '^\\.', message: 'errors.ts imports nothing of src/.' }] }] } },
];

export default tseslint.config(
  { ignores: ['node_modules/', 'src/db/generated/', 'data/', 'dist/', 'bench/results/'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': ['error', { allow: ['error'] }],
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      parserOptions: { projectService: false },
      globals: { process: 'readonly', console: 'readonly', URL: 'readonly' },
    },
  },
  {
    // Scripts served to the browser with the pages.
    files: ['public/**/*.js'],
    languageOptions: { globals: { document: 'readonly', window: 'readonly', fetch: 'readonly', URLSearchParams: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly' } },
  },
  {
    files: ['test/**/*.ts', 'scripts/**', 'bench/**', 'src/cli/**', 'src/main.ts'],
    rules: { 'no-console': 'off' },
  },
  {
    // node:test's test() and describe() return promises the runner itself awaits.
    files: ['test/**/*.ts'],
    rules: { '@typescript-eslint/no-floating-promises': 'off', '@typescript-eslint/no-non-null-assertion': 'off' },
  },
  ...importDirection,
);
