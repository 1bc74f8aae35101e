// A throwaway redis-server for the benches: a free port, a temp dir, no persistence. The benches are built into
// dist/js (tsconfig.build.json) and run without jest, so they do not import spec/helpers/redis.ts (not built).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { freePort } from '../free-port';

/** Starts redis-server on 127.0.0.1 and resolves once it accepts connections; the caller kills `proc`. */
export async function startRedisServer(): Promise<{ port: number; proc: ChildProcess }> {
  const which = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' });
  if (which.status !== 0) throw new Error('redis-server is not installed');
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-redis-'));
  const proc = spawn(
    which.stdout.trim(),
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
    { stdio: 'ignore' },
  );
  for (let i = 0; i < 200; i++) {
    const ok = await new Promise<boolean>((r) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => (s.destroy(), r(true)));
      s.once('error', () => (s.destroy(), r(false)));
    });
    if (ok) return { port, proc };
    await new Promise((r) => setTimeout(r, 25));
  }
  proc.kill();
  throw new Error('redis-server did not start');
}
