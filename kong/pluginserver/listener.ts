// Unix-socket transport. Kong writes each request with one `send` and reads until the reply
// (mp_rpc.lua Rpc:call), but the bytes of one request can reach Node in several chunks (64 KiB reads) and,
// from a pipelining client, several requests can share a chunk. So each connection feeds one continuous
// MessagePack stream decoder (@msgpack/msgpack decodeMultiStream) instead of decoding chunk by chunk as
// kong-pdk's listener.js does. Requests of a connection are handled one after the other, in order.
import fs = require('fs');
import net = require('net');
import { on } from 'events';
import { decodeMultiStream } from '@msgpack/msgpack';
import type { PluginEvent } from './events';
import { JsonLogger, errorMessage } from './log';
import { PluginServer, RpcConnection } from './server';

class Connection implements RpcConnection {
  current: PluginEvent | null = null;
  alive = true;
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

  private async serve(socket: net.Socket, scope: string | null): Promise<void> {
    const conn = new Connection(scope);
    this.sockets.add(socket);
    socket.on('error', (err) => this.log.debug('connection error', { error: errorMessage(err) }));
    socket.on('close', () => {
      this.sockets.delete(socket);
      conn.alive = false;
      // Kong gave up waiting for this reply (read timeout, worker exit): it will never step the event.
      conn.current?.end('the connection closed while Kong waited for the reply');
    });
    // The socket stays in flowing mode (events.on), so a peer's close is seen while a request is being
    // handled; the high-water mark pauses a client that sends far ahead of the replies.
    const chunks = (async function* () {
      for await (const [chunk] of on(socket, 'data', { close: ['end', 'close'], highWaterMark: 64 })) {
        yield chunk as Buffer;
      }
    })();
    try {
      for await (const message of decodeMultiStream(chunks)) {
        const reply = await this.pluginServer.handleRequest(message, conn);
        if (reply && conn.alive && socket.writable) socket.write(reply);
      }
    } catch (err) {
      if (conn.alive) {
        this.log.warn('closing a connection that sent undecodable data', { error: errorMessage(err) });
      }
    } finally {
      socket.destroy();
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
