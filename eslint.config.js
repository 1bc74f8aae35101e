'use strict';
// Lint (run by `npm test` before the build, see scripts/test.js). typescript-eslint's recommended rules, plus the
// type-aware rules that catch a request slipping through: a promise nobody awaits or catches (a handler that
// returns before its check ran, an unhandled rejection that kills the plugin server) and a promise used as a
// condition. The whole type-checked preset is not on: its no-unsafe-* rules flag every msgpack/JSON value and
// would need hundreds of casts that say nothing. Formatting is Prettier's (eslint-config-prettier turns off the
// stylistic rules that would fight it).
const js = require('@eslint/js');
const tseslint = require('typescript-eslint');
const prettier = require('eslint-config-prettier');
const globals = require('globals');

module.exports = tseslint.config(
  { ignores: ['dist/', 'coverage/', 'node_modules/', '.tmp/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: __dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: false }],
      '@typescript-eslint/await-thenable': 'error',
      // `import fs = require('fs')` is this code base's CommonJS import form (isolatedModules, no esModuleInterop
      // surprises); a bare `require()` call still needs a reason.
      '@typescript-eslint/no-require-imports': ['error', { allowAsImport: true }],
      // Inputs are refused when they hold control characters: those regexes match them on purpose.
      'no-control-regex': 'off',
      // A `let` assigned once after a closure that reads it (a server callback referring to its own wrapper).
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
      // `_name` marks a parameter a signature requires but this implementation does not use.
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_' },
      ],
    },
  },
  {
    // jest.mock() factories are hoisted above the imports, so they can only require().
    files: ['spec/**/*.ts'],
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    // Plain CommonJS: build/test scripts, config files, plugin-server fixtures.
    files: ['**/*.js'],
    languageOptions: { sourceType: 'commonjs', globals: { ...globals.node } },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  prettier,
);
