// Starting external plugin servers and reading their plugin info the way Kong 3.9 does
// (kong/runloop/plugin_servers/process.lua + kong/conf_loader/init.lua `pluginserver_*` settings).
import { spawn, spawnSync, ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { parseDump, PluginInfo } from '../schema/plugin-info';

/** One `pluginserver_names` entry of kong.conf. */
export interface PluginServerEntry {
  name: string;
  socket: string;
  /** `_start_cmd`; absent = externally managed (or started by another entry sharing the socket). */
  startCmd?: string[];
  /** `_query_cmd`; mandatory in Kong (a missing one is a fatal config error). */
  queryCmd: string[];
}

export type PluginServerKind = 'stock' | 'bulwark';

/** The repository root, found from either the TypeScript source (tests) or the compiled dist/js tree. */
function findRepoRoot(): string {
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, 'package.json')) || dir.endsWith(path.join('dist', 'js'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error('bulwark: cannot find the repository root');
    dir = up;
  }
  return dir;
}
export const repoRoot = findRepoRoot();
export const distPluginsDir = path.join(repoRoot, 'dist', 'plugins');
const stockBin = require.resolve('kong-pdk/bin/kong-js-pluginserver');
const bulwarkBin = path.join(repoRoot, 'dist', 'js', 'kong', 'pluginserver', 'cli.js');

/** The kong.conf entries for the plugins in `pluginsRoot`, as docs/README describe them for Kong 3.9. */
export function pluginServerEntries(
  kind: PluginServerKind,
  prefix: string,
  pluginNames: string[],
  pluginsRoot = distPluginsDir,
  /** More arguments for bulwark-pluginserver's start command (e.g. --metrics-listen); the stock server takes none. */
  bulwarkArgs: readonly string[] = [],
): PluginServerEntry[] {
  const node = process.execPath;
  if (kind === 'stock') {
    // Kong 3.9 registers only the first plugin of a query output, so the stock server runs once per plugin.
    return pluginNames.map((name) => ({
      name,
      socket: path.join(prefix, `${name}.sock`),
      startCmd: [node, stockBin, '-d', path.join(pluginsRoot, name), '-p', prefix, '--sock-name', `${name}.sock`],
      queryCmd: [node, stockBin, '-d', path.join(pluginsRoot, name), '--dump-all-plugins'],
    }));
  }
  // One bulwark-pluginserver process serves every plugin, one socket each; only the first entry starts it.
  return pluginNames.map((name, i) => ({
    name,
    socket: path.join(prefix, `${name}.sock`),
    // One worker unless BULWARK_PLUGINSERVER_WORKERS says otherwise: a suite's in-memory limits and lockouts are per
    // worker (kong/pluginserver/workers.ts), and which worker a pooled connection reaches is the kernel's choice.
    startCmd:
      i === 0
        ? [
            node,
            bulwarkBin,
            '--plugins-root',
            pluginsRoot,
            '-p',
            prefix,
            '--workers',
            process.env.BULWARK_PLUGINSERVER_WORKERS ?? '1',
            ...bulwarkArgs,
          ]
        : undefined,
    queryCmd: [node, bulwarkBin, '--plugins-root', pluginsRoot, '--dump-plugin', name],
  }));
}

export function listBuiltPlugins(pluginsRoot = distPluginsDir): string[] {
  if (!fs.existsSync(pluginsRoot)) return [];
  return fs
    .readdirSync(pluginsRoot)
    .filter((n) => fs.existsSync(path.join(pluginsRoot, n, 'index.js')))
    .sort();
}

/**
 * Runs a query command like process.lua's io.popen + cjson.decode; Kong 3.9 registers only element [0]
 * (`(dump.Plugins or dump)[1]`).
 */
export function queryPluginInfo(entry: PluginServerEntry, mode: '3.9' | '3.8' = '3.9'): PluginInfo[] {
  const [cmd, ...args] = entry.queryCmd;
  const out = spawnSync(cmd, args, { encoding: 'utf8', timeout: 30_000 });
  if (out.error) throw out.error;
  const infos = parseDump(out.stdout);
  return mode === '3.9' ? infos.slice(0, 1) : infos;
}

export interface ServerLogLine {
  server: string;
  line: string;
}

/** A running plugin-server process, its output captured line by line as Kong's error log would show it. */
export class PluginServerProcess {
  readonly lines: ServerLogLine[] = [];
  private readonly listeners: ((l: ServerLogLine) => void)[] = [];
  private exited = false;

  constructor(
    readonly entry: PluginServerEntry,
    readonly child: ChildProcess,
  ) {
    const onData = (buf: Buffer) => {
      for (const line of buf.toString('utf8').split('\n')) {
        if (!line.trim()) continue;
        const l = { server: entry.name, line };
        this.lines.push(l);
        if (this.lines.length > 10_000) this.lines.shift();
        for (const fn of this.listeners) fn(l);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData); // Kong merges stderr into stdout (merge_stderr = true)
    child.on('exit', () => (this.exited = true));
  }

  /** `env`: the environment of the nginx worker that spawns it (see workerEnvironment); default: that of Kong's default nginx.conf. */
  static start(entry: PluginServerEntry, env: NodeJS.ProcessEnv = workerEnvironment([])): PluginServerProcess {
    if (!entry.startCmd) throw new Error(`${entry.name}: no start command`);
    const [cmd, ...args] = entry.startCmd;
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
    return new PluginServerProcess(entry, child);
  }

  get running(): boolean {
    return !this.exited;
  }

  onLine(fn: (l: ServerLogLine) => void): void {
    this.listeners.push(fn);
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 5000): Promise<void> {
    if (this.exited) return;
    const done = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.kill(signal);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    await done;
    clearTimeout(timer);
  }
}

/**
 * The environment an nginx worker has, which the plugin server Kong spawns from worker 0 inherits
 * (process.lua 3.9.3 line 153: ngx_pipe.spawn("exec " .. start_command)): nginx removes every inherited variable
 * but TZ, and keeps those named by `env NAME;` / sets `env NAME=value;` directives (kong.conf `nginx_main_env`).
 * No PATH, no HOME, no NODE_EXTRA_CA_CERTS unless listed. (The query command runs in the master at init, with the
 * full environment.)
 */
export function workerEnvironment(envDirectives: string[], from: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const directive of ['TZ', ...envDirectives]) {
    const eq = directive.indexOf('=');
    if (eq > 0) env[directive.slice(0, eq)] = directive.slice(eq + 1);
    else if (from[directive] !== undefined) env[directive] = from[directive];
  }
  return env;
}

/** Whether something accepts connections on the Unix socket now. */
export function acceptsConnections(socket: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = net.connect(socket);
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
}

/**
 * Kong has no readiness check; the emulator waits until the socket accepts a connection so tests start
 * deterministically. The file alone is not enough: it exists from bind(), and until listen() a connect is refused.
 * Generous: with the stock server, one Node process per plugin starts at once, which takes long on a loaded machine.
 */
export async function waitForSocket(
  socket: string,
  proc: PluginServerProcess | undefined,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!fs.existsSync(socket) || !(await acceptsConnections(socket))) {
    if (proc && !proc.running) {
      throw new Error(
        `plugin server ${proc.entry.name} exited before creating ${socket}:\n${proc.lines.map((l) => l.line).join('\n')}`,
      );
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${socket}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
