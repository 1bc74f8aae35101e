// Test harness: runs bulwark-pluginserver (compiled, from dist/) or the stock kong-js-pluginserver as a real
// process and plays Kong's side over its Unix sockets. `npm run build` must have run first.
import { ChildProcess, spawn } from 'child_process';
import fs = require('fs');
import os = require('os');
import path = require('path');
import { acceptsConnections } from '../../kong/emulator/plugin-server';
import { RpcTestClient } from '../../kong/test-tools/rpc-test-client';

export const REPO = path.resolve(__dirname, '../..');
export const CLI = path.join(REPO, 'dist/js/kong/pluginserver/cli.js');
export const FIXTURES = path.join(REPO, 'spec/fixtures/pluginserver-plugins');
export const GOOD = path.join(FIXTURES, 'good');
export const BAD = path.join(FIXTURES, 'bad');
/** The same fixtures laid out as the stock server expects: one file per plugin. */
export const STOCK_LAYOUT = path.join(FIXTURES, 'stock-layout');
export const STOCK_BIN = require.resolve('kong-pdk/bin/kong-js-pluginserver');

export function requireBuild(): void {
  if (!fs.existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` before these tests`);
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

export interface ProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export class ServerProcess {
  private err = '';
  readonly exited: Promise<ProcessExit>;
  exit: ProcessExit | null = null;

  constructor(
    readonly child: ChildProcess,
    readonly prefix: string,
  ) {
    child.stdout?.resume(); // drained, never read: plugins may print there
    child.stderr?.on('data', (chunk: Buffer) => (this.err += chunk.toString()));
    this.exited = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        this.exit = { code, signal };
        resolve(this.exit);
      }),
    );
  }

  get stderr(): string {
    return this.err;
  }

  /** The parsed JSON log lines (non-JSON lines, e.g. what plugins print, are skipped). */
  logs(): Record<string, unknown>[] {
    return this.err.split('\n').flatMap((line) => {
      try {
        const value: unknown = JSON.parse(line);
        return typeof value === 'object' && value !== null ? [value as Record<string, unknown>] : [];
      } catch {
        return [];
      }
    });
  }

  socket(name: string): string {
    return path.join(this.prefix, name);
  }

  connect(sockFile: string): Promise<RpcTestClient> {
    return RpcTestClient.connect(this.socket(sockFile));
  }

  async kill(): Promise<void> {
    if (!this.exit) this.child.kill('SIGKILL');
    await this.exited;
    fs.rmSync(this.prefix, { recursive: true, force: true });
  }
}

export function tmpPrefix(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'bulwark-ps-'));
}

/** Starts bulwark-pluginserver on the good fixtures (plus `args`); resolves once it logs "listening". */
export async function startBulwark(args: string[] = [], prefix = tmpPrefix()): Promise<ServerProcess> {
  requireBuild();
  const child = spawn(
    process.execPath,
    [CLI, '--plugins-root', GOOD, '-p', prefix, '--sock-name', 'all.sock', ...args],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const server = new ServerProcess(child, prefix);
  await waitFor(
    'bulwark-pluginserver to listen',
    () => {
      if (server.exit) throw new Error(`bulwark-pluginserver exited: ${server.stderr}`);
      return server.stderr.includes('"msg":"listening"');
    },
    30_000,
  ); // with --workers (default: one per core) three processes load the plugins: slow on a loaded machine
  return server;
}

/** Starts the stock kong-js-pluginserver on the echo and body fixtures; its socket is `stock.sock`. */
export async function startStock(): Promise<ServerProcess> {
  const prefix = tmpPrefix();
  const child = spawn(process.execPath, [STOCK_BIN, '-d', STOCK_LAYOUT, '-p', prefix, '--sock-name', 'stock.sock'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const server = new ServerProcess(child, prefix);
  // The socket file exists from bind(); connections are accepted only after listen().
  await waitFor('the stock server to listen', async () => {
    if (server.exit) throw new Error(`kong-js-pluginserver exited: ${server.stderr}`);
    return fs.existsSync(server.socket('stock.sock')) && (await acceptsConnections(server.socket('stock.sock')));
  });
  return server;
}

export interface CliRun extends ProcessExit {
  stdout: string;
  stderr: string;
}

/** Runs bulwark-pluginserver (or another script) to completion. */
export function runCli(args: string[], script = CLI): Promise<CliRun> {
  requireBuild();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** `{EventId, Data}` as HandleEvent and Step reply it. */
export interface EventStep {
  EventId: number;
  Data: 'ret' | { Method: string; Args: unknown[] };
}

export async function startInstance(client: RpcTestClient, name: string, config: object = {}): Promise<number> {
  const status = (await client.call('plugin.StartInstance', { Name: name, Config: JSON.stringify(config) })) as {
    Id: number;
  };
  return status.Id;
}

export async function status(client: RpcTestClient): Promise<{ Events: number; Instances: number; Heap: number }> {
  return (await client.call('plugin.GetStatus', null)) as { Events: number; Instances: number; Heap: number };
}
