// What the operator CLIs (api-key.ts, oauth2-client-secret.ts) share: a `run` without process I/O returns a
// CliResult (tests call it directly); `exitWith` prints it and sets the exit code when the script is run.

export interface CliResult {
  /** Printed on stdout. */
  out: string;
  /** Printed on stderr. */
  err: string;
  code: number;
}

/** Prints the result of `run` (stderr first) and sets the exit code; a thrown error prints `error: …` and exits 1. */
export function exitWith(result: Promise<CliResult>): void {
  result.then(
    (r) => {
      process.stderr.write(r.err);
      process.stdout.write(r.out);
      process.exitCode = r.code;
    },
    (e: unknown) => {
      process.stderr.write(`error: ${e instanceof Error ? e.message : String(e)}\n`);
      process.exitCode = 1;
    },
  );
}
