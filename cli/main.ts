#!/usr/bin/env node
// The `bulwark` command (package bin): one tool for operating Bulwark: `validate`, `lint`, `inventory`, `api-key`,
// `oauth2-secret`. Every command has --help; exit codes are in output.ts (EXIT) and the README.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Command } from 'commander';
import { apiKeyCommand, defaultDeps } from './api-key';
import { runCommand, type CliIo, type CliResult } from './command';
import { oauth2SecretCommand, processStdin } from './oauth2-secret';
import { EXIT } from './output';
import { packageRoot } from './paths';
import { validateFiles } from './validate';

const EXIT_CODES_HELP = `
Exit codes:
  0  done, nothing at or above the failure threshold
  1  the check found problems (invalid plugin config, lint findings at or above --fail-on, inventory findings)
  2  usage error or unusable input (unknown option, unreadable or unparsable file)`;

function version(): string {
  const pkg = JSON.parse(fs.readFileSync(path.join(packageRoot, 'package.json'), 'utf8')) as { version: string };
  return pkg.version;
}

/** The whole command tree; actions write to `io`. */
export function program(io: CliIo): Command {
  const root = new Command('bulwark')
    .description('Bulwark: security plugins for Kong. Check declarative configs, inventory APIs, manage credentials.')
    .version(version())
    .addHelpText('after', EXIT_CODES_HELP);

  root
    .command('validate')
    .description(
      "check every Bulwark plugin entry of declarative files as Kong would: the plugin's schema, then its instance start",
    )
    .argument('[files...]', 'decK/Kong declarative files (YAML or JSON)', ['kong.yml'])
    .action((files: string[]) => {
      io.setCode(
        validateFiles(
          files.map((f) => path.resolve(f)),
          { out: io.out, err: io.err },
        ),
      );
    });

  root.addCommand(apiKeyCommand(io, defaultDeps()));
  root.addCommand(oauth2SecretCommand(io, processStdin));
  return root;
}

/** Runs the command line `argv` (the user's arguments) and returns what to print. */
export function run(argv: string[], opts: { stdoutIsTTY?: boolean } = {}): Promise<CliResult> {
  return runCommand(program, argv, opts);
}

/** The bin: runs, prints, sets the exit code. An unexpected failure exits 2 with its message. */
export function main(argv: string[]): void {
  run(argv, { stdoutIsTTY: process.stdout.isTTY === true }).then(
    (r) => {
      process.stderr.write(r.err);
      process.stdout.write(r.out);
      process.exitCode = r.code;
    },
    (e: unknown) => {
      process.stderr.write(`bulwark: ${e instanceof Error ? e.message : String(e)}\n`);
      process.exitCode = EXIT.usage;
    },
  );
}

if (require.main === module) main(process.argv.slice(2));
