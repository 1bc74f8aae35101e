// Running a commander command without process I/O: output is collected, commander's own exits (help, usage
// errors) become exit codes (0 for help, 2 for usage errors), so the same code serves the bin and the tests.
import { Command, CommanderError } from 'commander';
import { EXIT } from './output';

export interface CliResult {
  /** Printed on stdout. */
  out: string;
  /** Printed on stderr. */
  err: string;
  code: number;
}

/** Where actions write; `code` is the exit code an action sets. */
export interface CliIo {
  out: (s: string) => void;
  err: (s: string) => void;
  setCode: (code: number) => void;
  /** Is stdout a terminal (colour)? */
  stdoutIsTTY: boolean;
}

function configure(cmd: Command, collected: { out: string; err: string }): void {
  cmd.exitOverride();
  cmd.configureOutput({
    writeOut: (s) => (collected.out += s),
    writeErr: (s) => (collected.err += s),
  });
  cmd.showHelpAfterError('(add --help for usage)');
  for (const sub of cmd.commands) configure(sub, collected);
}

/** Parses `argv` (user arguments, no node/script) with `build(io)`'s command tree and runs the action. */
export async function runCommand(
  build: (io: CliIo) => Command,
  argv: string[],
  opts: { stdoutIsTTY?: boolean } = {},
): Promise<CliResult> {
  const collected = { out: '', err: '' };
  let code: number = EXIT.ok;
  const io: CliIo = {
    out: (s) => (collected.out += s),
    err: (s) => (collected.err += s),
    setCode: (c) => (code = Math.max(code, c)),
    stdoutIsTTY: opts.stdoutIsTTY ?? false,
  };
  const cmd = build(io);
  configure(cmd, collected);
  try {
    await cmd.parseAsync(argv, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      const helpShown = err.code === 'commander.helpDisplayed' || err.code === 'commander.version';
      return { ...collected, code: helpShown ? EXIT.ok : EXIT.usage };
    }
    throw err;
  }
  return { ...collected, code };
}

/** Collects a repeatable option's values. */
export const collect = (value: string, previous: string[] = []): string[] => [...previous, value];
