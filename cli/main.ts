#!/usr/bin/env node
// The `bulwark` command (package bin): one tool for operating Bulwark: `validate`, `lint`, `inventory`, `api-key`,
// `oauth2-secret`. Every command has --help; exit codes are in output.ts (EXIT) and the README.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Command, Option } from 'commander';
import { apiKeyCommand, defaultDeps } from './api-key';
import { runCommand, type CliIo, type CliResult } from './command';
import { oauth2SecretCommand, processStdin } from './oauth2-secret';
import { EXIT } from './output';
import { packageRoot } from './paths';
import { dumpBuiltPlugins, validateFiles } from './validate';
import { readDeclarativeFiles } from './lint/deck-file';
import { failsAt, lintModel, renderJson, renderText } from './lint/lint';
import { RULES, SEVERITIES, type Severity } from './lint/rules';
import { renderSarif } from './lint/sarif';
import {
  buildInventory,
  documentedOperations,
  InventoryInputError,
  parseEvents,
  renderJson as renderInventoryJson,
  renderMarkdown,
  renderSarif as renderInventorySarif,
  type InventoryClass,
} from './inventory/inventory';
import { painter } from './output';
import type { PluginInfo } from '../kong/schema/plugin-info';

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

  root
    .command('lint')
    .description('security lint of decK/Kong declarative files (several merge like decK): Kong-aware rules BW001…')
    .argument('[files...]', 'decK/Kong declarative files (YAML or JSON)', ['kong.yml'])
    .addOption(new Option('-f, --format <format>', 'output format').choices(['text', 'json', 'sarif']).default('text'))
    .option('-o, --output <file>', 'write the report to this file instead of stdout')
    .addOption(
      new Option('--fail-on <severity>', 'exit 1 when a finding is at or above this severity')
        .choices([...SEVERITIES, 'none'])
        .default('medium'),
    )
    .option('--kong-conf <file>', 'the kong.conf Kong runs with (tells whether bulwark-guard is loaded, rule BW015)')
    .option('--list-rules', 'print the rules catalog and exit')
    .addHelpText(
      'after',
      `\nSilence a rule on one entity with the tag bulwark-lint:ignore=<RULE> (e.g. on an intentionally public route).${EXIT_CODES_HELP}`,
    )
    .action(
      (
        files: string[],
        opts: {
          format: 'text' | 'json' | 'sarif';
          output?: string;
          failOn: Severity | 'none';
          kongConf?: string;
          listRules?: boolean;
        },
      ) => {
        if (opts.listRules) {
          for (const r of RULES) io.out(`${r.id}  ${r.severity.padEnd(8)} ${r.name}: ${r.summary}\n`);
          return;
        }
        let model;
        let kongConf: string | undefined;
        try {
          model = readDeclarativeFiles(files.map((f) => path.resolve(f)));
          if (opts.kongConf) kongConf = fs.readFileSync(opts.kongConf, 'utf8');
        } catch (err) {
          io.err(`bulwark lint: ${(err as Error).message}\n`);
          io.setCode(EXIT.usage);
          return;
        }
        let infos: Map<string, PluginInfo> | undefined;
        try {
          infos = dumpBuiltPlugins();
        } catch (err) {
          io.err(
            `bulwark lint: note: Bulwark plugin schemas unavailable (${(err as Error).message}); defaults not filled\n`,
          );
        }
        const findings = lintModel(model, {
          ...(infos ? { infos } : {}),
          ...(kongConf !== undefined ? { kongConf } : {}),
        });
        const report =
          opts.format === 'sarif'
            ? renderSarif(findings, { version: version() })
            : opts.format === 'json'
              ? renderJson(findings)
              : renderText(findings, painter({ isTTY: io.stdoutIsTTY && !opts.output }));
        if (opts.output) fs.writeFileSync(opts.output, report);
        else io.out(report);
        if (failsAt(findings, opts.failOn)) io.setCode(EXIT.findings);
      },
    );

  root
    .command('inventory')
    .description(
      'API inventory from observed traffic: shadow, zombie, orphan and documented operations (per host, method, path template)',
    )
    .requiredOption(
      '-e, --events <file...>',
      'SecurityEvents as JSON lines (the file sink of bulwark-audit; plugins/bulwark-audit/README.md)',
    )
    .option(
      '-c, --config <file...>',
      "declarative files whose bulwark-validator entries hold the OpenAPI documents (openapi.spec, or openapi.spec_file read from here as 'bulwark validate' reads it)",
      ['kong.yml'],
    )
    .addOption(
      new Option('-f, --format <format>', 'output format').choices(['markdown', 'json', 'sarif']).default('markdown'),
    )
    .option('-o, --output <file>', 'write the report to this file instead of stdout')
    .option('--since <time>', 'window start (ISO 8601); default: the first event')
    .option('--until <time>', 'window end (ISO 8601); default: the last event')
    .option('--now <time>', 'the time x-sunset dates are compared with (ISO 8601; default: now)')
    .option(
      '--fail-on <classes>',
      "exit 1 when the report has operations of these classes (comma-separated; 'none' never fails)",
      'shadow,zombie',
    )
    .addHelpText('after', EXIT_CODES_HELP)
    .action(
      (opts: {
        events: string[];
        config: string[];
        format: 'markdown' | 'json' | 'sarif';
        output?: string;
        since?: string;
        until?: string;
        now?: string;
        failOn: string;
      }) => {
        const time = (name: string, v: string | undefined): number | undefined => {
          if (v === undefined) return undefined;
          const t = Date.parse(v);
          if (Number.isNaN(t)) throw new InventoryInputError(`--${name}: not an ISO 8601 time: ${v}`);
          return t;
        };
        const failOn = opts.failOn.split(',').map((c) => c.trim());
        const unknown = failOn.filter((c) => !['shadow', 'zombie', 'orphan', 'documented', 'none'].includes(c));
        let report;
        let ops;
        try {
          if (unknown.length) throw new InventoryInputError(`--fail-on: unknown class ${unknown.join(', ')}`);
          ops = documentedOperations(readDeclarativeFiles(opts.config.map((f) => path.resolve(f))));
          const events = opts.events.flatMap((f) => parseEvents(fs.readFileSync(f, 'utf8'), f));
          const since = time('since', opts.since);
          const until = time('until', opts.until);
          report = buildInventory(ops, events, {
            now: time('now', opts.now) ?? Date.now(),
            ...(since !== undefined ? { since } : {}),
            ...(until !== undefined ? { until } : {}),
          });
        } catch (err) {
          io.err(`bulwark inventory: ${(err as Error).message}\n`);
          io.setCode(EXIT.usage);
          return;
        }
        const text =
          opts.format === 'sarif'
            ? renderInventorySarif(report, ops, { version: version(), configFile: path.resolve(opts.config[0]!) })
            : opts.format === 'json'
              ? renderInventoryJson(report)
              : renderMarkdown(report);
        if (opts.output) fs.writeFileSync(opts.output, text);
        else io.out(text);
        if (failOn.some((c) => c !== 'none' && report.totals[c as InventoryClass] > 0)) io.setCode(EXIT.findings);
      },
    );

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
