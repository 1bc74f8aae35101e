// Unix-socket transport. Kong writes each request with one `send` and reads until the reply
// (mp_rpc.lua Rpc:call), but the bytes of one request can reach Node in several chunks (64 KiB reads) and,
// from a pipelining client, several requests can share a chunk. So each connection keeps one MessageFramer
// across reads, instead of decoding chunk by chunk as kong-pdk's listener.js does. Requests of a connection
// are handled one after the other, in order, each reply written with one write.
import fs = require('fs');
import net = require('net');
import type { PluginEvent } from './events';
import { MessageFramer } from './framer';
import { JsonLogger, errorMessage } from './log';
import { PluginServer, RpcConnection } from './server';

/** Requests read ahead of the one being handled before the socket is paused (Kong sends one at a time). */
const MAX_QUEUED_REQUESTS = 64;

class Connection implements RpcConnection {
  current: PluginEvent | null = null;
  alive = true;
  readonly framer = new MessageFramer();
  readonly queue: unknown[] = [];
  draining = false;
  constructor(readonly scope: string | null) {}
}

export class SocketListener {
  private readonly servers: { path: string; server: net.Server }[] = [];
  private readonly sockets = new Set<net.Socket>();

  constructor(
    private readonly pluginServer: PluginServer,
    private readonly log: JsonLogger,
  ) {}

  get socketPaths(): string[] {
    return this.servers.map((s) => s.path);
  }

  /** Listens on `path`; `scope` restricts the socket to one plugin's instances and events (null: all). */
  async listen(path: string, scope: string | null): Promise<void> {
    const existing = fs.lstatSync(path, { throwIfNoEntry: false });
    if (existing && !existing.isSocket()) throw new Error(`${path} exists and is not a socket`);
    if (existing) fs.unlinkSync(path); // a stale socket of a previous run
    const server = net.createServer((socket) => void this.serve(socket, scope));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (err) => this.log.error('socket server error', { path, error: errorMessage(err) }));
    this.servers.push({ path, server });
  }

  private serve(socket: net.Socket, scope: string | null): void {
    const conn = new Connection(scope);
    this.sockets.add(socket);
    socket.on('error', (err) => this.log.debug('connection error', { error: errorMessage(err) }));
    socket.on('close', () => {
      this.sockets.delete(socket);
      conn.alive = false;
      conn.queue.length = 0;
      // Kong gave up waiting for this reply (read timeout, worker exit): it will never step the event.
      conn.current?.end('the connection closed while Kong waited for the reply');
    });
    // Flowing mode: a peer's close is seen even while a request is being handled.
    socket.on('data', (chunk: Buffer) => {
      let messages: unknown[];
      try {
        messages = conn.framer.push(chunk);
      } catch (err) {
        this.log.warn('closing a connection that sent data that is not MessagePack', { error: errorMessage(err) });
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
        if (reply && conn.alive && socket.writable) socket.write(reply);
        if (socket.isPaused() && conn.queue.length <= MAX_QUEUED_REQUESTS / 2) socket.resume();
      }
    } catch (err) {
      this.log.error('closing a connection after an internal error', { error: errorMessage(err) });
      socket.destroy();
    } finally {
      conn.draining = false;
    }
  }

  /**
   * Stops accepting (and removes the socket files), waits up to `graceMs` for the live events to end,
   * then ends whatever is left and closes the connections.
   */
  async shutdown(graceMs: number): Promise<void> {
    for (const { path, server } of this.servers) {
      server.close();
      try {
        fs.unlinkSync(path);
      } catch {
        // already gone
      }
    }
    const deadline = Date.now() + graceMs;
    while (this.pluginServer.events.size > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const unfinished = this.pluginServer.events.size;
    this.pluginServer.events.endAll('the plugin server is shutting down');
    for (const socket of this.sockets) socket.destroy();
    this.log.info('stopped', { unfinishedEvents: unfinished });
  }
}
