// Kong's side of the MessagePack-RPC transport to an external plugin server.
// Mirrors kong/runloop/plugin_servers/rpc/mp_rpc.lua (Kong 3.9) `Rpc:call`:
//  - every Lua string packed as a str of its bytes (the codec of kong/pluginserver, lossless for non-UTF-8 bytes),
//  - a connection from a keep-alive pool per call (ngx.socket.connect + setkeepalive),
//  - the request packed and sent with ONE write, at most one outstanding request per connection (never pipelined),
//  - a streaming unpacker read until the `[1, msgid, ...]` response with our msgid; `[2, ...]` notifications skipped,
//  - a read timeout (nginx's lua_socket_read_timeout default, 60 s), errors returned as strings like cosockets do.
import * as net from 'node:net';
import { newKongDecoder } from '../pluginserver/framer';
import { newKongEncoder } from '../pluginserver/kong-encoder';

export class RpcError extends Error {}

/**
 * mp_rpc.lua Rpc:call asserts that a reply is a response (`data[1] == 1`) with the request's msgid: a failed
 * assert is a Lua error in the phase handler (500 in access), not an error string that Kong logs and skips.
 */
export class RpcAssertionError extends RpcError {}

const MSG_REQUEST = 0;
const MSG_RESPONSE = 1;
const MSG_NOTIFICATION = 2;

interface Pending {
  msgid: number;
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

/** One Unix-socket connection: Kong uses it for one call at a time, then returns it to the pool. */
class RpcConnection {
  private pending: Pending | undefined;
  closed = false;
  /**
   * Kong packs a Lua string as a str of its bytes, UTF-8 or not (mp_rpc.lua `mp_pack`). The emulator holds such bytes
   * as bulwark-pluginserver decodes them (plugins/lib/kong-strings.ts: a byte that is not UTF-8 as U+DC00 + byte), so
   * it encodes and decodes with the same codec: a header of raw bytes reaches a plugin server as those bytes.
   */
  private readonly encoder = newKongEncoder();

  private constructor(private readonly socket: net.Socket) {
    socket.on('close', () => this.fail(new RpcError('closed')));
    socket.on('error', (err) => this.fail(new RpcError(err.message)));
    void this.readLoop();
  }

  static connect(path: string, timeoutMs: number): Promise<RpcConnection> {
    return new Promise((resolve, reject) => {
      const socket = net.createConnection(path);
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new RpcError('timeout'));
      }, timeoutMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        resolve(new RpcConnection(socket));
      });
      socket.once('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        // ngx.socket.connect reports e.g. "no such file or directory" / "connection refused"
        reject(
          new RpcError(
            err.code === 'ENOENT'
              ? 'no such file or directory'
              : err.code === 'ECONNREFUSED'
                ? 'connection refused'
                : err.message,
          ),
        );
      });
    });
  }

  private async readLoop(): Promise<void> {
    const decoder = newKongDecoder();
    try {
      for await (const message of decoder.decodeStream(this.socket)) {
        this.onMessage(message);
      }
    } catch (err) {
      this.fail(new RpcError(`unpack error: ${(err as Error).message}`));
      this.socket.destroy();
    }
  }

  private onMessage(message: unknown): void {
    if (!Array.isArray(message)) return;
    if (message[0] === MSG_NOTIFICATION) return; // Kong handles only serverPid; the JS server never sends any.
    const p = this.pending;
    if (!p) return;
    if (message[0] !== MSG_RESPONSE) {
      this.fail(new RpcAssertionError('RPC response expected from Go plugin server'));
      this.socket.destroy();
      return;
    }
    if (message[1] !== p.msgid) {
      this.fail(new RpcAssertionError('unexpected RPC response ID from Go plugin server'));
      this.socket.destroy();
      return;
    }
    this.pending = undefined;
    clearTimeout(p.timer);
    const [, , err, result] = message as [number, number, unknown, unknown];
    if (err !== null && err !== undefined) p.reject(new RpcError(String(err)));
    else p.resolve(result);
  }

  private fail(err: Error): void {
    this.closed = true;
    const p = this.pending;
    if (p) {
      this.pending = undefined;
      clearTimeout(p.timer);
      p.reject(err);
    }
  }

  call(msgid: number, method: string, arg: unknown, timeoutMs: number): Promise<unknown> {
    if (this.pending) throw new Error('emulator bug: a Kong connection never carries two outstanding requests');
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.fail(new RpcError('timeout'));
        this.socket.destroy();
      }, timeoutMs);
      this.pending = { msgid, resolve, reject, timer };
      // One write per message, as Kong's cosocket `send` does.
      this.socket.write(this.encoder.encode([MSG_REQUEST, msgid, method, [arg]]));
    });
  }

  destroy(): void {
    this.closed = true;
    this.socket.destroy();
  }
}

export interface RpcStats {
  calls: number;
  connectionsOpened: number;
}

/** A pool of keep-alive connections to one socket, as one nginx worker's cosocket pool holds them. */
export class RpcClient {
  private readonly idle: RpcConnection[] = [];
  private readonly all = new Set<RpcConnection>();
  private msgid = 0;
  readonly stats: RpcStats = { calls: 0, connectionsOpened: 0 };

  constructor(
    readonly socketPath: string,
    private readonly timeoutMs = 60_000,
    private readonly poolSize = 256, // lua_socket_pool_size in Kong's nginx template
  ) {}

  async call(method: string, arg: unknown): Promise<unknown> {
    this.stats.calls++;
    let conn = this.idle.pop();
    while (conn && conn.closed) conn = this.idle.pop();
    if (!conn) {
      conn = await RpcConnection.connect(this.socketPath, this.timeoutMs);
      this.stats.connectionsOpened++;
      this.all.add(conn);
    }
    this.msgid++;
    try {
      const result = await conn.call(this.msgid, method, arg, this.timeoutMs);
      if (this.idle.length < this.poolSize) this.idle.push(conn);
      else {
        conn.destroy();
        this.all.delete(conn);
      }
      return result;
    } catch (err) {
      // A connection with an error response is still usable; a broken one is dropped.
      if (!conn.closed && err instanceof RpcError && this.idle.length < this.poolSize) this.idle.push(conn);
      else this.all.delete(conn);
      throw err;
    }
  }

  close(): void {
    for (const c of this.all) c.destroy();
    this.all.clear();
    this.idle.length = 0;
  }
}
