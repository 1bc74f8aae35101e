// JSON-lines logger. Kong merges the plugin server's stderr into stdout and logs every line at INFO
// (kong/runloop/plugin_servers/process.lua), so one line per record, no colour codes, always on stderr
// (stdout stays free for the --dump-* JSON).

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export type LogFields = Record<string, unknown>;

export class JsonLogger {
  constructor(
    private readonly minLevel: LogLevel = 'info',
    private readonly write: (line: string) => void = (line) => void process.stderr.write(line),
  ) {}

  /** Whether debug records are written (so a hot path can skip building their fields). */
  get debugEnabled(): boolean {
    return RANK.debug >= RANK[this.minLevel];
  }

  debug(msg: string, fields?: LogFields): void {
    this.log('debug', msg, fields);
  }
  info(msg: string, fields?: LogFields): void {
    this.log('info', msg, fields);
  }
  warn(msg: string, fields?: LogFields): void {
    this.log('warn', msg, fields);
  }
  error(msg: string, fields?: LogFields): void {
    this.log('error', msg, fields);
  }

  log(level: LogLevel, msg: string, fields?: LogFields): void {
    if (RANK[level] < RANK[this.minLevel]) return;
    const record = { time: new Date().toISOString(), level, msg, ...fields };
    let line: string;
    try {
      line = JSON.stringify(record);
    } catch {
      line = JSON.stringify({ time: record.time, level, msg, fields: '[unserialisable]' });
    }
    this.write(line + '\n');
  }
}

/** Message text of anything thrown, for logs and RPC error replies. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  if (typeof err === 'string') return err;
  try {
    return JSON.stringify(err) ?? String(err);
  } catch {
    return String(err);
  }
}
