// npm run lint: typescript-eslint over every package's TypeScript (sources and tests), with the
// rules that catch what review kept finding: unused code, floating promises, unhandled misuse of
// promises. Type information comes from each package's own tsconfig.json (TypeScript 5's JS API,
// installed here; the build uses TypeScript 7).
import path from 'node:path';
import tseslint from 'typescript-eslint';

const root = path.resolve(import.meta.dirname, '..', '..');

export default tseslint.config(
  {
    // packages/sourcemaps/test/fixtures/app: a user's TypeScript app that the tests compile with
    // tsc, esbuild and tsx themselves (no project of ours includes it, on purpose).
    ignores: ['**/dist/**', '**/node_modules/**', 'tools/**', 'packages/*/prebuilds/**', 'packages/view/page/**', 'artifacts/**',
      'packages/sourcemaps/test/fixtures/app/**'],
  },
  {
    // The JavaScript (fixtures, bins) is Node's CommonJS: a top-level return is legal there.
    files: ['**/*.js'],
    languageOptions: { sourceType: 'commonjs' },
  },
  {
    files: ['packages/*/src/**/*.ts', 'packages/*/test/**/*.ts'],
    extends: [tseslint.configs.recommended],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: root },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      // Tests read JSON from child processes: `any` is the honest type there.
      '@typescript-eslint/no-explicit-any': 'off',
      // require() is deliberate: the agent and the sampler load a package when it is first needed
      // (start-up cost is paid by every profiled process), and tests load builds chosen at run time.
      '@typescript-eslint/no-require-imports': 'off',
    },
  },
);
