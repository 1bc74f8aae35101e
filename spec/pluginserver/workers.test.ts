// --workers N: every worker accepts on the same sockets; an event stays with the worker that started it, and a Step
// that Kong sends on a connection of another worker is forwarded to the owner (kong/pluginserver/workers.ts).
import fs = require('fs');
import { RpcTestClient } from '../../kong/test-tools/rpc-test-client';
import { EventStep, ServerProcess, startBulwark, startInstance, status, tmpPrefix } from './harness';

/** The pids of a process's children (the workers of a primary), from /proc. */
function childPids(parent: number): number[] {
  const pids: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === parent) pids.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return pids;
}

const WORKERS = 2;

describe('bulwark-pluginserver --workers 2', () => {
  let server: ServerProcess;
  const clients: RpcTestClient[] = [];

  beforeAll(async () => {
    server = await startBulwark(['--workers', String(WORKERS)]);
  });
  afterAll(async () => {
    for (const c of clients) c.close();
    await server?.kill();
  });

  /** A new connection and the worker serving it (the parity of an event id it gets; the event is run to its end). */
  async function connectionOnWorker(instanceId: number): Promise<{ client: RpcTestClient; worker: number }> {
    const client = await server.connect('all.sock');
    clients.push(client);
    const step = (await client.call('plugin.HandleEvent', {
      InstanceId: instanceId,
      EventName: 'access',
    })) as EventStep;
    await client.call('plugin.Step', { EventId: step.EventId, Data: 'probe' });
    expect(((await client.call('plugin.Step', { EventId: step.EventId })) as EventStep).Data).toBe('ret');
    return { client, worker: step.EventId % WORKERS };
  }

  test('a Step on a connection of another worker reaches the event, in order, and the event ends', async () => {
    const first = await server.connect('all.sock');
    clients.push(first);
    const id = await startInstance(first, 'echo', { greeting: 'fwd' });
    const start = (await first.call('plugin.HandleEvent', { InstanceId: id, EventName: 'access' })) as EventStep;
    expect(start.Data).toEqual({ Method: 'kong.request.get_header', Args: ['x-echo'] });
    const owner = start.EventId % WORKERS;
    // The kernel spreads connections over the workers: open connections until one is served by the other worker.
    let other: RpcTestClient | undefined;
    for (let i = 0; i < 200 && !other; i++) {
      const c = await connectionOnWorker(id);
      if (c.worker !== owner) other = c.client;
    }
    if (!other) throw new Error('no connection reached the second worker');
    const next = (await other.call('plugin.Step', { EventId: start.EventId, Data: 'elsewhere' })) as EventStep;
    expect(next).toEqual({
      EventId: start.EventId,
      Data: { Method: 'kong.response.set_header', Args: ['x-echoed', 'fwd:elsewhere'] },
    });
    expect(((await other.call('plugin.Step', { EventId: start.EventId })) as EventStep).Data).toBe('ret');
    expect((await status(first)).Events).toBe(0);
    // An unknown event id answers as with one process, whichever worker owns the id.
    for (const eventId of [start.EventId, start.EventId + 1]) {
      expect(await other.request('plugin.Step', { EventId: eventId })).toMatchObject({
        error: `event id ${eventId} not found`,
      });
    }
  });

  test('an instance started through one worker runs on every worker (Kong sends its events on any connection)', async () => {
    const first = await server.connect('all.sock');
    clients.push(first);
    const id = await startInstance(first, 'echo', { greeting: 'all' });
    const seen = new Set<number>();
    for (let i = 0; i < 200 && seen.size < WORKERS; i++) seen.add((await connectionOnWorker(id)).worker);
    expect(seen.size).toBe(WORKERS);
    expect(await first.call('plugin.CloseInstance', id)).toMatchObject({ Id: id });
    for (let i = 0; i < 10; i++) {
      const c = await server.connect('all.sock');
      clients.push(c);
      expect(await c.request('plugin.HandleEvent', { InstanceId: id, EventName: 'access' })).toMatchObject({
        error: `no plugin instance #${id}`,
      });
    }
  });

  test("a handler that throws still ends the request with Kong's 500 (fail-closed)", async () => {
    const first = await server.connect('all.sock');
    clients.push(first);
    const id = await startInstance(first, 'thrower');
    for (let i = 0; i < 10; i++) {
      const c = await server.connect('all.sock');
      clients.push(c);
      const access = (await c.call('plugin.HandleEvent', { InstanceId: id, EventName: 'access' })) as EventStep;
      expect(access.Data).toEqual({
        Method: 'kong.response.exit',
        Args: [500, { message: 'An unexpected error occurred' }],
      });
    }
    expect((await status(first)).Events).toBe(0);
  });

  test('kong reload: stopping the old server (2 workers) leaves the sockets of the new one (2 workers) serving', async () => {
    const prefix = tmpPrefix();
    const older = await startBulwark(['--workers', String(WORKERS)], prefix);
    let newer: ServerProcess | undefined;
    try {
      newer = await startBulwark(['--workers', String(WORKERS)], prefix);
      older.child.kill('SIGTERM');
      expect(await older.exited).toEqual({ code: 0, signal: null });
      for (const sock of ['all.sock', 'echo.sock']) {
        expect(fs.existsSync(newer.socket(sock))).toBe(true);
        // Several connections, so that both of the newer server's workers answer.
        for (let i = 0; i < 6; i++) {
          const client = await newer.connect(sock);
          clients.push(client);
          expect(((await client.call('plugin.GetStatus', null)) as { Pid: number }).Pid).toBe(newer.child.pid);
        }
      }
      newer.child.kill('SIGTERM');
      await newer.exited;
      expect(fs.readdirSync(prefix)).toEqual([]);
    } finally {
      await newer?.kill();
      await older.kill();
    }
  }, 60_000);

  test('a worker killed with SIGKILL stops the whole server: exit 1 and no socket left (Kong restarts it)', async () => {
    const other = await startBulwark(['--workers', String(WORKERS)]);
    try {
      const workers = childPids(other.child.pid!);
      expect(workers).toHaveLength(WORKERS);
      process.kill(workers[0], 'SIGKILL');
      expect(await other.exited).toEqual({ code: 1, signal: null });
      // No half server keeps answering with a partial instance table: the sockets are gone, the other worker too.
      expect(fs.existsSync(other.socket('all.sock'))).toBe(false);
      expect(fs.existsSync(other.socket('echo.sock'))).toBe(false);
      const alive = (pid: number) => {
        try {
          process.kill(pid, 0);
          return true;
        } catch {
          return false;
        }
      };
      for (let i = 0; i < 100 && alive(workers[1]); i++) await new Promise((r) => setTimeout(r, 50));
      expect(alive(workers[1])).toBe(false);
    } finally {
      await other.kill();
    }
  }, 30_000);

  test('SIGTERM stops every worker and removes the sockets; exit 0', async () => {
    const other = await startBulwark(['--workers', String(WORKERS)]);
    expect(fs.existsSync(other.socket('all.sock'))).toBe(true);
    other.child.kill('SIGTERM');
    expect(await other.exited).toEqual({ code: 0, signal: null });
    expect(fs.existsSync(other.socket('all.sock'))).toBe(false);
    expect(fs.existsSync(other.socket('echo.sock'))).toBe(false);
    await other.kill();
  });
});
