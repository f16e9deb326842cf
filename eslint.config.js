// Lint: typescript-eslint's recommended rules with type information, over every TypeScript
// file of the project. Formatting is Prettier's job (`npm run format`), not ESLint's.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // A leading underscore marks a value left unused on purpose (a destructured field dropped).
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' },
      ],
      // `let f!: () => void` filled in once its closure's other variables exist.
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
    },
  },
  {
    files: ['test/**/*.ts'],
    rules: {
      // Vitest's asymmetric matchers (`expect.any(String)`) are typed `any` by design.
      '@typescript-eslint/no-unsafe-assignment': 'off',
      // `expect(spy.method).toHaveBeenCalled()` passes methods around unbound on purpose.
      '@typescript-eslint/unbound-method': 'off',
    },
  },
  { files: ['eslint.config.js'], extends: [tseslint.configs.disableTypeChecked] },
  // Plain JavaScript that `npm start` runs before any build (no tsc, no tsx on a server).
  {
    files: ['tools/*.mjs'],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly' } },
  },
);
