// npm run lint: typescript-eslint over every package's TypeScript (sources and tests), with the
// rules that catch what review kept finding: unused code, floating promises, unhandled misuse of
// promises. Type information comes from each package's own tsconfig.json (TypeScript 5's JS API,
// installed here; the build uses TypeScript 7).
import path from 'node:path';
import tseslint from 'typescript-eslint';

const root = path.resolve(import.meta.dirname, '..', '..');

export default tseslint.config(
  {
    ignores: ['**/dist/**', '**/node_modules/**', 'tools/**', 'packages/*/prebuilds/**', 'packages/view/page/**', 'artifacts/**'],
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
    },
  },
);
