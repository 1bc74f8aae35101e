// A real redis-server for tests: started on a free port in a temp dir, stopped afterwards. Never a mock.
import { spawn, spawnSync, ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { freePort } from '../../scripts/free-port';

export { freePort };

export interface RedisServer {
  port: number;
  host: string;
  dir: string;
  process: ChildProcess;
  /** Kills the server (SIGKILL by default, as an outage would) and waits for it to exit. */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again on the same port (after stop), e.g. to test recovery. */
  restart(): Promise<void>;
}

export function redisServerBinary(): string {
  const r = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' });
  if (r.status !== 0)
    throw new Error('redis-server is not installed (Debian package "redis-server"; .ci/run installs it)');
  return r.stdout.trim();
}

/** Resolves once something accepts TCP connections on 127.0.0.1:`port`. */
export function waitForPort(port: number, timeoutMs = 10_000, what = 'redis-server'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve();
      });
      s.once('error', () => {
        s.destroy();
        if (Date.now() > deadline) reject(new Error(`${what} did not listen on ${port}`));
        else setTimeout(attempt, 25);
      });
    };
    attempt();
  });
}

/** Starts redis-server with `extraArgs` (e.g. ['--cluster-enabled', 'yes']) on a free (or given) port. */
export async function startRedis(extraArgs: string[] = [], fixedPort?: number): Promise<RedisServer> {
  const bin = redisServerBinary();
  const port = fixedPort ?? (await freePort());
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bulwark-redis-'));
  const launch = () => {
    fs.mkdirSync(dir, { recursive: true });
    return spawn(
      bin,
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, ...extraArgs],
      {
        stdio: 'ignore',
      },
    );
  };
  const server: RedisServer = {
    port,
    host: '127.0.0.1',
    dir,
    process: launch(),
    async stop(signal: NodeJS.Signals = 'SIGKILL') {
      const p = server.process;
      if (p.exitCode !== null || p.signalCode !== null) return;
      await new Promise<void>((resolve) => {
        p.once('exit', () => resolve());
        p.kill(signal);
      });
      fs.rmSync(dir, { recursive: true, force: true }); // nothing persisted (--save '', no AOF); restart recreates it
    },
    async restart() {
      await server.stop();
      server.process = launch();
      await waitForPort(port);
    },
  };
  await waitForPort(port);
  return server;
}
