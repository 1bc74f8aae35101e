// Unix-socket transport. Kong writes each request with one `send` and reads until the reply
// (mp_rpc.lua Rpc:call), but the bytes of one request can reach Node in several chunks (64 KiB reads) and,
// from a pipelining client, several requests can share a chunk. So each connection keeps one MessageFramer
// across reads, instead of decoding chunk by chunk as kong-pdk's listener.js does. Requests of a connection
// are handled one after the other, in order, each reply written with one write.
//
// What one connection can hold is bounded: one incomplete message (the framer's cap), the requests decoded
// from one read plus MAX_QUEUED_REQUESTS, and unsent replies up to the socket's high-water mark plus one
// reply. A peer that sends requests without reading the replies is no longer read from until they drain.
import crypto = require('crypto');
import fs = require('fs');
import net = require('net');
import path = require('path');
import type { PluginEvent } from './events';
import { DEFAULT_MAX_MESSAGE_BYTES, MessageFramer, MessageTooLargeError } from './framer';
import { JsonLogger, errorMessage } from './log';
import { PluginServer, RpcConnection } from './server';

/** Requests read ahead of the one being handled before the socket is paused (Kong sends one at a time). */
const MAX_QUEUED_REQUESTS = 64;

class Connection implements RpcConnection {
  current: PluginEvent | null = null;
  alive = true;
  onClose: (() => void) | null = null;
  readonly framer: MessageFramer;
  readonly queue: unknown[] = [];
  draining = false;
  constructor(
    readonly scope: string | null,
    maxMessageBytes: number,
  ) {
    this.framer = new MessageFramer(maxMessageBytes);
  }
}

/** A socket file this process created, identified by its inode (a newer server may replace the path). */
interface Listening {
  path: string;
  server: net.Server;
  dev: number;
  ino: number;
}

export class SocketListener {
  private readonly servers: Listening[] = [];
  private readonly sockets = new Set<net.Socket>();
  private readonly adopted: net.Server[] = [];

  constructor(
    private readonly pluginServer: PluginServer,
    private readonly log: JsonLogger,
    private readonly maxMessageBytes = DEFAULT_MAX_MESSAGE_BYTES,
  ) {}

  get socketPaths(): string[] {
    return this.servers.map((s) => s.path);
  }

  /** Listens on `path`; `scope` restricts the socket to one plugin's instances and events (null: all). */
  async listen(socketPath: string, scope: string | null): Promise<void> {
    const existing = fs.lstatSync(socketPath, { throwIfNoEntry: false });
    if (existing && !existing.isSocket()) throw new Error(`${socketPath} exists and is not a socket`);
    // Bound under a private name, then renamed over `socketPath` (atomically replacing the socket of a
    // previous run or of the server a `kong reload` replaces). libuv unlinks the path it bound when the
    // server closes (uv__pipe_close), so binding `socketPath` itself would make this server, when stopped,
    // remove the socket of the newer server that replaced it; the private name is gone by then.
    const bindPath = path.join(
      path.dirname(socketPath),
      `.${path.basename(socketPath)}.${crypto.randomBytes(6).toString('hex')}`,
    );
    const server = net.createServer((socket) => void this.serve(socket, scope));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(bindPath, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (err) => this.log.error('socket server error', { path: socketPath, error: errorMessage(err) }));
    try {
      fs.renameSync(bindPath, socketPath);
    } catch (err) {
      server.close();
      throw err;
    }
    const { dev, ino } = fs.statSync(socketPath);
    this.servers.push({ path: socketPath, server, dev, ino });
  }

  /**
   * Serves a socket another process bound and listens on (a worker of `--workers N`, given the primary's listening
   * socket): accepts on it alongside the other workers. The socket file belongs to the primary.
   */
  adopt(server: net.Server, scope: string | null): void {
    server.on('connection', (socket: net.Socket) => this.serve(socket, scope));
    server.on('error', (err) => this.log.error('socket server error', { error: errorMessage(err) }));
    this.adopted.push(server);
  }

  private serve(socket: net.Socket, scope: string | null): void {
    const conn = new Connection(scope, this.maxMessageBytes);
    this.sockets.add(socket);
    socket.on('error', (err) => this.log.debug('connection error', { error: errorMessage(err) }));
    socket.on('close', () => {
      this.sockets.delete(socket);
      conn.alive = false;
      conn.queue.length = 0;
      conn.onClose?.();
      // Kong gave up waiting for this reply (read timeout, worker exit): it will never step the event.
      conn.current?.end('the connection closed while Kong waited for the reply');
    });
    // Flowing mode: a peer's close is seen even while a request is being handled.
    socket.on('data', (chunk: Buffer) => {
      let messages: unknown[];
      try {
        messages = conn.framer.push(chunk);
      } catch (err) {
        const reason =
          err instanceof MessageTooLargeError
            ? 'sent a message over the size cap'
            : 'sent data that is not MessagePack';
        this.log.warn(`closing a connection that ${reason}`, { error: errorMessage(err) });
        socket.destroy();
        return;
      }
      if (messages.length === 0) return;
      conn.queue.push(...messages);
      if (conn.queue.length > MAX_QUEUED_REQUESTS) socket.pause();
      if (!conn.draining) void this.drain(socket, conn);
    });
  }

  private async drain(socket: net.Socket, conn: Connection): Promise<void> {
    conn.draining = true;
    try {
      while (conn.queue.length > 0) {
        const message = conn.queue.shift();
        const reply = await this.pluginServer.handleRequest(message, conn);
        if (reply && conn.alive && socket.writable && !socket.write(reply)) {
          // The peer is not reading its replies: read no more requests until they drain.
          socket.pause();
          await new Promise<void>((resolve) => {
            const done = (): void => {
              socket.off('drain', done);
              socket.off('close', done);
              resolve();
            };
            socket.on('drain', done);
            socket.on('close', done);
          });
          if (!conn.alive) return;
        }
        if (socket.isPaused() && conn.queue.length <= MAX_QUEUED_REQUESTS / 2) socket.resume();
      }
      if (socket.isPaused() && conn.alive) socket.resume();
    } catch (err) {
      this.log.error('closing a connection after an internal error', { error: errorMessage(err) });
      socket.destroy();
    } finally {
      conn.draining = false;
    }
  }

  /**
   * Stops accepting (and removes the socket files that are still this server's), waits up to `graceMs` for
   * the live events to end, then ends whatever is left and closes the connections.
   */
  async shutdown(graceMs: number, logStopped = true): Promise<number> {
    for (const server of this.adopted) server.close();
    for (const { path: socketPath, server, dev, ino } of this.servers) {
      server.close();
      // Only a file that is still ours: during `kong reload` a newer server has already replaced it. (Between
      // this check and the unlink a replacement could still slip in; the window is one system call.)
      const current = fs.lstatSync(socketPath, { throwIfNoEntry: false });
      if (current && current.dev === dev && current.ino === ino) {
        try {
          fs.unlinkSync(socketPath);
        } catch {
          // already gone
        }
      }
    }
    const deadline = Date.now() + graceMs;
    while (this.pluginServer.events.size > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const unfinished = this.pluginServer.events.size;
    this.pluginServer.events.endAll('the plugin server is shutting down');
    for (const socket of this.sockets) socket.destroy();
    if (logStopped) this.log.info('stopped', { unfinishedEvents: unfinished });
    return unfinished;
  }
}
