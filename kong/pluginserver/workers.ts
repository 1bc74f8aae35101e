// Every core: with --workers N > 1 the plugin server is one primary process and N worker processes. The primary
// binds each plugin socket once and hands the listening socket to every worker (child_process handle passing):
// all workers accept on the same sockets and the kernel spreads Kong's connections over them. No process routes
// RPCs: each worker serves the connections it accepted, start to end, so throughput grows with the workers until
// the cores run out (the only cross-worker traffic is below, and it is per instance or rare).
//
// What crosses workers (through the primary, which relays IPC messages):
//   - StartInstance / CloseInstance: the worker Kong asked starts (closes) the instance and every other worker does
//     the same with the same id before the reply, because Kong sends the instance's events on any connection.
//     Instances are therefore per worker: each has its own plugin object, like one per Kong node. State a plugin
//     keeps in memory (in-memory rate-limit counters, lockout tables, token caches) is per worker.
//   - A Step on a connection of another worker than the one running the event. Kong takes a pooled connection per
//     call (mp_rpc.lua Rpc:call), and nginx's pool is LIFO, so the Steps of an event nearly always come back on the
//     connection of its HandleEvent; when one does not, the worker that got it forwards the whole request to the
//     event's owner (its id says which: id mod N) and writes the owner's reply. Nothing is lost or answered early.
//   - GetStatus: the events of every worker are counted.
// Ids of events and instances are id ≡ worker index (mod N), so any worker knows the owner of an event id.
// A worker that dies takes its events with it: the primary stops the others and exits 1 (Kong restarts the plugin
// server, as after a crash of a single process), so no worker ever serves with a partial instance table.
import { ChildProcess, fork } from 'child_process';
import crypto = require('crypto');
import fs = require('fs');
import net = require('net');
import path = require('path');
import { JsonLogger, errorMessage } from './log';

/** Messages between a worker and the primary. `to`: the worker index a relayed message is for. */
export type PeerMessage =
  | { type: 'listen'; path: string; scope: string | null }
  | { type: 'listening' }
  | { type: 'ready' }
  | { type: 'shutdown'; graceMs: number }
  | { type: 'stopped'; unfinishedEvents: number }
  | { type: 'call'; to: number; from: number; seq: number; op: PeerOp }
  | { type: 'answer'; to: number; from: number; seq: number; ok: boolean; value: unknown };

/** What one worker asks another. */
export type PeerOp =
  | { kind: 'start'; id: number; name: string; config: string }
  | { kind: 'close'; id: number }
  | { kind: 'request'; message: unknown; scope: string | null; key: number }
  | { kind: 'closed'; key: number }
  | { kind: 'status'; gc: boolean };

/** How a worker reaches the others (implemented over IPC through the primary). */
export interface PeerLink {
  readonly index: number;
  readonly count: number;
  /** Asks worker `to`; resolves with its answer, rejects with its error. */
  call(to: number, op: PeerOp): Promise<unknown>;
}

/** The worker index that owns an event or instance id. */
export function ownerOf(id: number, count: number): number {
  return id % count;
}

/** Worker side of the IPC: calls to peers, answers to their calls. */
export class IpcPeerLink implements PeerLink {
  private seq = 0;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  handler: (op: PeerOp, from: number) => Promise<unknown> = () => Promise.reject(new Error('not ready'));

  constructor(
    readonly index: number,
    readonly count: number,
  ) {}

  call(to: number, op: PeerOp): Promise<unknown> {
    const seq = ++this.seq;
    return new Promise((resolve, reject) => {
      this.pending.set(seq, { resolve, reject });
      // The callback gets the error of a closed channel (the primary is gone): the call fails, nothing waits.
      process.send!({ type: 'call', to, from: this.index, seq, op } satisfies PeerMessage, undefined, {}, (err) => {
        if (!err) return;
        this.pending.delete(seq);
        reject(err);
      });
    });
  }

  /** Handles a relayed message; false if it is not a peer message. */
  receive(msg: PeerMessage): boolean {
    if (msg.type === 'answer') {
      const p = this.pending.get(msg.seq);
      this.pending.delete(msg.seq);
      if (msg.ok) p?.resolve(msg.value);
      else p?.reject(new Error(String(msg.value)));
      return true;
    }
    if (msg.type === 'call') {
      const answer = (ok: boolean, value: unknown): void => {
        const reply: PeerMessage = { type: 'answer', to: msg.from, from: this.index, seq: msg.seq, ok, value };
        process.send!(reply, undefined, {}, () => undefined); // a closed channel: the asker is gone with the primary
      };
      this.handler(msg.op, msg.from).then(
        (value) => answer(true, value),
        (err) => answer(false, errorMessage(err)),
      );
      return true;
    }
    return false;
  }
}

/** A socket this primary bound, identified by its inode (a newer server may replace the path). */
interface Bound {
  path: string;
  dev: number;
  ino: number;
}

export interface PrimaryOptions {
  count: number;
  /** [socket path, scope] per socket. */
  sockets: [string, string | null][];
  /** argv for each worker (the CLI's own arguments). */
  workerArgs: string[];
  log: JsonLogger;
}

/**
 * Binds the sockets, forks the workers and hands them the sockets; resolves once every worker accepts on every
 * socket and the socket files are in place. Returns the shutdown function.
 */
export async function runPrimary(
  opts: PrimaryOptions,
): Promise<{ shutdown: (graceMs: number) => Promise<number>; workerDied: Promise<number> }> {
  const { count, log } = opts;
  const workers: ChildProcess[] = [];
  const bound: Bound[] = [];
  let stopping = false;
  let died: ((code: number) => void) | null = null;
  const workerDied = new Promise<number>((resolve) => (died = resolve));

  for (let i = 0; i < count; i++) {
    const child = fork(process.argv[1], opts.workerArgs, {
      env: { ...process.env, BULWARK_PLUGINSERVER_WORKER: `${i}/${count}` },
      serialization: 'advanced', // Step data carries binary bodies
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    workers.push(child);
    child.on('message', (msg: PeerMessage) => {
      if (msg.type !== 'call' && msg.type !== 'answer') return;
      // Relay between workers. A call to a worker that is gone is answered with an error at once (the caller
      // answers Kong with an error, never waits forever); an answer to a gone worker has nobody to wait for it.
      const unreachable = (): void => {
        if (msg.type === 'call') {
          const answer: PeerMessage = {
            type: 'answer',
            to: msg.from,
            from: msg.to,
            seq: msg.seq,
            ok: false,
            value: `worker ${msg.to} is gone`,
          };
          if (child.connected) child.send(answer, () => undefined);
        }
      };
      const target = workers[msg.to];
      if (!target?.connected) return unreachable();
      target.send(msg, (err) => {
        if (err) unreachable();
      });
    });
    child.on('error', (err) => log.warn('worker IPC error', { worker: i, error: errorMessage(err) }));
    child.on('exit', (code, signal) => {
      if (stopping) return;
      log.error('a worker exited: stopping the plugin server', { worker: i, code, signal });
      void shutdown(0).then(() => died?.(1));
    });
  }
  try {
    await bindAndHandOver();
  } catch (err) {
    stopping = true;
    for (const w of workers) w.kill('SIGKILL');
    throw err;
  }

  async function bindAndHandOver(): Promise<void> {
    await Promise.all(
      workers.map(
        (w) =>
          new Promise<void>((resolve, reject) => {
            const onMsg = (m: PeerMessage) => {
              if (m.type !== 'ready') return;
              w.off('message', onMsg);
              resolve();
            };
            w.on('message', onMsg);
            w.once('exit', () => reject(new Error('a worker exited while starting')));
          }),
      ),
    );

    for (const [socketPath, scope] of opts.sockets) {
      const existing = fs.lstatSync(socketPath, { throwIfNoEntry: false });
      if (existing && !existing.isSocket()) throw new Error(`${socketPath} exists and is not a socket`);
      // Bound under a private name (see listener.ts listen); a hard link under a second private name keeps the socket
      // reachable after the primary closes its own copy (libuv unlinks the bound name on close), and is renamed over
      // `socketPath` once every worker accepts on it.
      const base = path.join(
        path.dirname(socketPath),
        `.${path.basename(socketPath)}.${crypto.randomBytes(6).toString('hex')}`,
      );
      const server = net.createServer();
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen({ path: base, backlog: 511 }, () => resolve());
      });
      fs.linkSync(base, `${base}.l`);
      await Promise.all(
        workers.map(
          (w) =>
            new Promise<void>((resolve, reject) => {
              const onMsg = (m: PeerMessage) => {
                if (m.type !== 'listening') return;
                w.off('message', onMsg);
                resolve();
              };
              w.on('message', onMsg);
              w.send({ type: 'listen', path: socketPath, scope } satisfies PeerMessage, server, (err) => {
                if (err) reject(err);
              });
            }),
        ),
      );
      // The primary never accepts: only the workers do.
      await new Promise<void>((resolve) => server.close(() => resolve()));
      fs.renameSync(`${base}.l`, socketPath);
      const { dev, ino } = fs.statSync(socketPath);
      bound.push({ path: socketPath, dev, ino });
    }
  }

  let finished: Promise<number> | null = null;
  function shutdown(graceMs: number): Promise<number> {
    finished ??= stopEverything(graceMs);
    return finished;
  }
  async function stopEverything(graceMs: number): Promise<number> {
    {
      stopping = true;
      for (const { path: socketPath, dev, ino } of bound) {
        const current = fs.lstatSync(socketPath, { throwIfNoEntry: false });
        if (current && current.dev === dev && current.ino === ino) {
          try {
            fs.unlinkSync(socketPath);
          } catch {
            // already gone
          }
        }
      }
      let unfinished = 0;
      const onStopped = (m: PeerMessage) => {
        if (m.type === 'stopped') unfinished += m.unfinishedEvents;
      };
      await Promise.all(
        workers.map(
          (w) =>
            new Promise<void>((resolve) => {
              w.on('message', onStopped);
              if (w.exitCode !== null || w.signalCode !== null) return resolve();
              w.once('exit', () => resolve());
              try {
                w.send({ type: 'shutdown', graceMs } satisfies PeerMessage);
              } catch {
                w.kill('SIGKILL');
              }
              setTimeout(() => w.kill('SIGKILL'), graceMs + 5000).unref();
            }),
        ),
      );
      log.info('stopped', { unfinishedEvents: unfinished });
    }
    return 0;
  }
  return { shutdown, workerDied };
}

/** This process's worker index and count when it runs as a worker (`BULWARK_PLUGINSERVER_WORKER=i/N`). */
export function workerIdentity(env: NodeJS.ProcessEnv = process.env): { index: number; count: number } | null {
  const m = /^(\d+)\/(\d+)$/.exec(env.BULWARK_PLUGINSERVER_WORKER ?? '');
  if (!m || !process.send) return null;
  return { index: Number(m[1]), count: Number(m[2]) };
}
