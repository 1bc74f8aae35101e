#!/usr/bin/env node
// bulwark-pluginserver: one Node process that serves every Bulwark plugin to Kong.
//
//   serve:  bulwark-pluginserver --plugins-root dist/plugins -p /usr/local/kong
//           → one socket per plugin, <prefix>/<plugin name>.sock (+ <prefix>/<--sock-name> for all plugins)
//   query:  bulwark-pluginserver --plugins-root dist/plugins --dump-plugin <name>   (Kong ≥ 3.9 query_cmd)
//           bulwark-pluginserver --plugins-root dist/plugins --dump-all-plugins     (Kong 3.0–3.8)
import fs = require('fs');
import net = require('net');
import os = require('os');
import path = require('path');
import { parseArgs } from 'util';
import { DEFAULT_MAX_MESSAGE_BYTES } from './framer';
import { SocketListener } from './listener';
import { parseListenAddress, startMetricsListener, type ListenAddress } from './metrics-listener';
import { JsonLogger, errorMessage } from './log';
import {
  LoadedPlugin,
  PluginLoadError,
  loadPlugins,
  pluginDirsUnderRoot,
  pluginInfo,
  redirectStdoutToStderr,
} from './plugins';
import { PluginServer } from './server';
import { IpcPeerLink, PeerMessage, runPrimary, workerIdentity } from './workers';

export const USAGE = `usage: bulwark-pluginserver (-d <plugin dir>)... | --plugins-root <dir> [options]
  -d, --plugin-dir <dir>    a plugin directory (index.js exporting Plugin, Schema, Version, Priority, Name?); repeatable
  --plugins-root <dir>      load every subdirectory of <dir> as a plugin directory; repeatable
  -p, --kong-prefix <dir>   where the sockets are created: <dir>/<plugin name>.sock (default /usr/local/kong)
  --sock-name <file>        also listen on <kong-prefix>/<file>, a socket serving every plugin
  --dump-plugin <name>      print [<plugin info>] as JSON and exit (Kong >= 3.9 query_cmd, one per plugin)
  --dump-all-plugins        print [<plugin info>, ...] as JSON and exit (Kong 3.0-3.8 query_cmd)
  --event-ttl <seconds>     end an event with no request from Kong for this long (default 60, Kong's socket timeout)
  --shutdown-grace <secs>   on SIGTERM, wait this long for live events to end (default 5)
  --max-message-mib <MiB>   drop a connection that sends one message larger than this (default 72: above the
                            64 MiB largest body a Bulwark plugin reads)
  --metrics-listen <addr>   serve Prometheus metrics at http://<addr>/metrics (HOST:PORT, [IPv6]:PORT or :PORT for
                            127.0.0.1; off by default; plain HTTP without auth: keep it on a private address)
  --workers <n>             worker processes serving the sockets (default: $BULWARK_PLUGINSERVER_WORKERS, else the
                            number of cores this process may use; 1 with --metrics-listen); 1 = a single process
  -v, --verbose             debug logs
Logs are JSON lines on stderr.`;

export interface CliOptions {
  pluginDirs: string[];
  kongPrefix: string;
  sockName?: string;
  dumpPlugin?: string;
  dumpAll: boolean;
  eventTtlMs: number;
  shutdownGraceMs: number;
  maxMessageBytes: number;
  metricsListen?: ListenAddress;
  workers: number;
  verbose: boolean;
}

export function parseCli(argv: string[]): CliOptions {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      'plugin-dir': { type: 'string', short: 'd', multiple: true },
      'plugins-root': { type: 'string', multiple: true },
      'kong-prefix': { type: 'string', short: 'p', default: '/usr/local/kong' },
      'sock-name': { type: 'string' },
      'dump-plugin': { type: 'string' },
      'dump-all-plugins': { type: 'boolean', default: false },
      'event-ttl': { type: 'string', default: '60' },
      'shutdown-grace': { type: 'string', default: '5' },
      'max-message-mib': { type: 'string', default: String(DEFAULT_MAX_MESSAGE_BYTES / 1048576) },
      'metrics-listen': { type: 'string' },
      workers: { type: 'string' },
      verbose: { type: 'boolean', short: 'v', default: false },
    },
  });
  // Metrics live in one prom-client registry per process: with several workers one listener would show one worker's
  // share. Until the registries are aggregated, --metrics-listen means one worker unless more are asked for (refused).
  const metrics = values['metrics-listen'] !== undefined;
  const workersText =
    values.workers ?? process.env.BULWARK_PLUGINSERVER_WORKERS ?? (metrics ? '1' : String(os.availableParallelism()));
  const workers = Number(workersText);
  if (!Number.isInteger(workers) || workers < 1 || workers > 256) {
    throw new Error('--workers (or BULWARK_PLUGINSERVER_WORKERS) must be an integer from 1 to 256');
  }
  if (metrics && workers > 1) {
    throw new Error(
      '--metrics-listen runs one worker: --workers (or BULWARK_PLUGINSERVER_WORKERS) must be 1 with it (metrics are per process, not aggregated across workers yet)',
    );
  }
  const pluginDirs = [...(values['plugin-dir'] ?? []), ...(values['plugins-root'] ?? []).flatMap(pluginDirsUnderRoot)];
  if (pluginDirs.length === 0) throw new Error('no plugin: give -d <plugin dir> or --plugins-root <dir>');
  const seconds = (name: string, text: string): number => {
    const n = Number(text);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a positive number of seconds`);
    return n * 1000;
  };
  const mebibytes = (text: string): number => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < 1 || n > 1024)
      throw new Error('--max-message-mib must be an integer from 1 to 1024');
    return n * 1048576;
  };
  return {
    pluginDirs,
    kongPrefix: values['kong-prefix'] ?? '/usr/local/kong',
    sockName: values['sock-name'],
    dumpPlugin: values['dump-plugin'],
    dumpAll: values['dump-all-plugins'] ?? false,
    eventTtlMs: seconds('event-ttl', values['event-ttl'] ?? '60'),
    shutdownGraceMs: seconds('shutdown-grace', values['shutdown-grace'] ?? '5'),
    maxMessageBytes: mebibytes(values['max-message-mib'] ?? '72'),
    ...(values['metrics-listen'] === undefined ? {} : { metricsListen: parseListenAddress(values['metrics-listen']) }),
    workers,
    verbose: values.verbose ?? false,
  };
}

/** Runs the CLI. Resolves to an exit code for the dump modes and failures, or null once serving. */
export async function main(argv: string[]): Promise<number | null> {
  let opts: CliOptions;
  try {
    opts = parseCli(argv);
  } catch (err) {
    process.stderr.write(`${errorMessage(err)}\n${USAGE}\n`);
    return 2;
  }
  const log = new JsonLogger(opts.verbose ? 'debug' : 'info');
  const dumping = opts.dumpAll || opts.dumpPlugin !== undefined;

  // Whatever plugins print while loading (and, when dumping, until exit) goes to stderr.
  const restoreStdout = redirectStdoutToStderr();
  let plugins: Map<string, LoadedPlugin>;
  try {
    plugins = loadPlugins(opts.pluginDirs);
  } catch (err) {
    const fields = err instanceof PluginLoadError ? { plugin: err.plugin, location: err.location } : {};
    log.error(errorMessage(err), fields);
    return 1;
  }

  if (dumping) {
    let infos;
    if (opts.dumpPlugin !== undefined) {
      const plugin = plugins.get(opts.dumpPlugin.toLowerCase());
      if (!plugin) {
        log.error(`plugin "${opts.dumpPlugin}" is not among the loaded plugins`, { loaded: [...plugins.keys()] });
        return 1;
      }
      infos = [pluginInfo(plugin)]; // Kong 3.9 registers only element [1] of the array (process.lua)
    } else {
      infos = [...plugins.values()].map(pluginInfo);
    }
    fs.writeSync(1, JSON.stringify(infos) + '\n');
    return 0;
  }
  restoreStdout();

  const worker = workerIdentity();
  if (worker) return serveAsWorker(opts, plugins, log, worker.index, worker.count);
  if (opts.workers > 1) return serveWithWorkers(opts, argv, plugins, log);

  const server = new PluginServer(plugins, log);
  const listener = new SocketListener(server, log, opts.maxMessageBytes);
  try {
    // Sockets only once every plugin has loaded, so Kong never reaches a half-loaded server.
    for (const name of plugins.keys()) await listener.listen(path.join(opts.kongPrefix, `${name}.sock`), name);
    if (opts.sockName) await listener.listen(path.join(opts.kongPrefix, opts.sockName), null);
  } catch (err) {
    log.error('cannot listen', { error: errorMessage(err) });
    await listener.shutdown(0);
    return 1;
  }
  let metricsAddress: ListenAddress | undefined;
  if (opts.metricsListen !== undefined) {
    try {
      metricsAddress = (await startMetricsListener(opts.metricsListen, log)).address;
    } catch (err) {
      // Asked for and not available: refuse to start rather than run without the metrics the operator expects.
      log.error('cannot listen for metrics', { error: errorMessage(err), address: opts.metricsListen });
      await listener.shutdown(0);
      return 1;
    }
  }

  const sweep = setInterval(
    () => {
      const ended = server.events.endIdle(opts.eventTtlMs);
      if (ended > 0) log.warn('ended idle events', { ended, events: server.events.size });
    },
    Math.min(opts.eventTtlMs / 2, 5000),
  );
  sweep.unref();

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log.info('stopping', { signal, events: server.events.size, instances: server.instanceCount });
    clearInterval(sweep);
    void listener.shutdown(opts.shutdownGraceMs).then(() => process.exit(0));
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  // A plugin promise nobody awaits (e.g. a PDK call made after kong.response.exit, which is rejected)
  // must not take every plugin down with it: Node's default for an unhandled rejection is to exit.
  process.on('unhandledRejection', (reason) =>
    log.warn('unhandled promise rejection', { error: errorMessage(reason) }),
  );

  log.info('listening', {
    pid: process.pid,
    plugins: [...plugins.keys()],
    sockets: listener.socketPaths,
    ...(metricsAddress ? { metrics: `http://${formatAddress(metricsAddress)}/metrics` } : {}),
  });
  return null;
}

function formatAddress(a: ListenAddress): string {
  return a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

/** The sockets to serve: one per plugin, plus the all-plugins socket. */
function socketList(opts: CliOptions, plugins: Map<string, LoadedPlugin>): [string, string | null][] {
  const list: [string, string | null][] = [...plugins.keys()].map((n) => [path.join(opts.kongPrefix, `${n}.sock`), n]);
  if (opts.sockName) list.push([path.join(opts.kongPrefix, opts.sockName), null]);
  return list;
}

/** The primary of --workers N: binds the sockets, hands them to the workers, relays between them, stops them. */
async function serveWithWorkers(
  opts: CliOptions,
  argv: string[],
  plugins: Map<string, LoadedPlugin>,
  log: JsonLogger,
): Promise<number | null> {
  let primary: Awaited<ReturnType<typeof runPrimary>>;
  try {
    primary = await runPrimary({ count: opts.workers, sockets: socketList(opts, plugins), workerArgs: argv, log });
  } catch (err) {
    log.error('cannot start the workers', { error: errorMessage(err) });
    return 1;
  }
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log.info('stopping', { signal, workers: opts.workers });
    void primary.shutdown(opts.shutdownGraceMs).then((code) => process.exit(code));
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  // A worker that died stops everything (workers.ts): exit with its code once the others have stopped.
  void primary.workerDied.then((code) => process.exit(code));
  log.info('listening', {
    pid: process.pid,
    plugins: [...plugins.keys()],
    sockets: socketList(opts, plugins).map(([p]) => p),
    workers: opts.workers,
  });
  return null;
}

/** One worker of --workers N: serves the sockets the primary hands over; instances and long Steps via its peers. */
function serveAsWorker(
  opts: CliOptions,
  plugins: Map<string, LoadedPlugin>,
  log: JsonLogger,
  index: number,
  count: number,
): Promise<number | null> {
  const peers = new IpcPeerLink(index, count);
  const server = new PluginServer(plugins, log, peers);
  peers.handler = (op, from) => server.handlePeer(op, from);
  const listener = new SocketListener(server, log, opts.maxMessageBytes);
  const sweep = setInterval(
    () => {
      const ended = server.events.endIdle(opts.eventTtlMs);
      if (ended > 0) log.warn('ended idle events', { ended, events: server.events.size, worker: index });
    },
    Math.min(opts.eventTtlMs / 2, 5000),
  );
  sweep.unref();
  let stopping = false;
  const stop = (graceMs: number): void => {
    if (stopping) return;
    stopping = true;
    clearInterval(sweep);
    void listener.shutdown(graceMs, false).then((unfinishedEvents) => {
      if (process.connected)
        process.send!({ type: 'stopped', unfinishedEvents } satisfies PeerMessage, () => process.exit(0));
      else process.exit(0);
    });
  };
  process.on('message', (msg: PeerMessage, handle?: unknown) => {
    if (peers.receive(msg)) return;
    if (msg.type === 'listen' && handle instanceof net.Server) {
      listener.adopt(handle, msg.scope);
      process.send!({ type: 'listening' } satisfies PeerMessage);
    } else if (msg.type === 'shutdown') stop(msg.graceMs);
  });
  // The primary handles the signals and tells the workers; a primary that is gone (killed) stops them.
  process.on('SIGTERM', () => undefined);
  process.on('SIGINT', () => undefined);
  process.on('disconnect', () => stop(0));
  process.on('unhandledRejection', (reason) =>
    log.warn('unhandled promise rejection', { error: errorMessage(reason) }),
  );
  process.send!({ type: 'ready' } satisfies PeerMessage);
  return Promise.resolve(null);
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      if (code !== null) process.exit(code);
    },
    (err) => {
      process.stderr.write(
        `${JSON.stringify({ time: new Date().toISOString(), level: 'error', msg: errorMessage(err) })}\n`,
      );
      process.exit(1);
    },
  );
}
