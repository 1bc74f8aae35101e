#!/usr/bin/env node
// Kept for existing pipelines: `node dist/js/scripts/oauth2-client-secret.js [secret | -]` is
// `bulwark oauth2-secret` (cli/oauth2-secret.ts).
import { main } from '../cli/main';

export { run, MIN_SECRET_LENGTH, type CliResult } from '../cli/oauth2-secret';

if (require.main === module) main(['oauth2-secret', ...process.argv.slice(2)]);
