#!/usr/bin/env node
// Kept for existing pipelines: `node dist/js/scripts/api-key.js <command> ...` is `bulwark api-key <command> ...`
// (cli/api-key.ts).
import { main } from '../cli/main';

export { run, type CliDeps, type CliResult } from '../cli/api-key';

if (require.main === module) main(['api-key', ...process.argv.slice(2)]);
