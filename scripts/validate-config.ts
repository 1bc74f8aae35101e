#!/usr/bin/env node
// Kept for existing pipelines: `node dist/js/scripts/validate-config.js [kong.yml...]` is `bulwark validate`
// (cli/validate.ts). Its functions are re-exported for the tests that import them from here.
import { main } from '../cli/main';

export { dumpBuiltPlugins, validateDeclarativePlugins, type ValidationProblem } from '../cli/validate';

if (require.main === module) main(['validate', ...process.argv.slice(2)]);
