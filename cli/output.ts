// Terminal output: colour only when the stream is a TTY and NO_COLOR is not set (https://no-color.org), so that
// CI logs, files and pipes get plain text.
export interface Painter {
  red(s: string): string;
  yellow(s: string): string;
  green(s: string): string;
  bold(s: string): string;
  dim(s: string): string;
}

const wrap = (on: boolean, open: number, close: number) => (s: string) =>
  on ? `\u001b[${open}m${s}\u001b[${close}m` : s;

export function painter(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): Painter {
  const on = stream.isTTY === true && env.NO_COLOR === undefined && env.TERM !== 'dumb';
  return {
    red: wrap(on, 31, 39),
    yellow: wrap(on, 33, 39),
    green: wrap(on, 32, 39),
    bold: wrap(on, 1, 22),
    dim: wrap(on, 2, 22),
  };
}

/** Exit codes of every `bulwark` command (README "The bulwark command"). */
export const EXIT = {
  /** Done; nothing at or above the failure threshold. */
  ok: 0,
  /** The check found problems (invalid config, findings at or above --fail-on, shadow/zombie operations). */
  findings: 1,
  /** Usage error or unusable input (unknown option, unreadable or unparsable file). */
  usage: 2,
} as const;
