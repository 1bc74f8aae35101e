// A minimal client playing Kong's side of the plugin-server protocol, for tests and benchmarks only (kong/test-tools:
// never shipped; the emulator's pool is kong/emulator/rpc.ts RpcClient): one request at a time, each written with a
// single write, replies read from a continuous stream decoder.
import net = require('net');
import { decodeMultiStream, encode } from '@msgpack/msgpack';

/** A reply `[1, msgid, error, result]` as received. */
export interface RpcReply {
  msgid: number;
  error: unknown;
  result: unknown;
}

export function encodeRequest(msgid: number, method: string, arg: unknown): Uint8Array {
  return encode([0, msgid, method, [arg]]);
}

export class RpcTestClient {
  private nextMsgid = 1;
  private readonly replies: RpcReply[] = [];
  private readonly waiters: { resolve: (r: RpcReply) => void; reject: (e: Error) => void }[] = [];
  private ended: Error | null = null;

  private constructor(readonly socket: net.Socket) {
    void this.readLoop();
  }

  static connect(path: string): Promise<RpcTestClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(path);
      socket.once('error', reject);
      socket.once('connect', () => {
        socket.off('error', reject);
        socket.on('error', () => undefined); // surfaced as "connection closed" to waiters
        resolve(new RpcTestClient(socket));
      });
    });
  }

  private async readLoop(): Promise<void> {
    try {
      for await (const message of decodeMultiStream(this.socket)) {
        const [, msgid, error, result] = message as [number, number, unknown, unknown];
        const reply = { msgid, error, result };
        const waiter = this.waiters.shift();
        if (waiter) waiter.resolve(reply);
        else this.replies.push(reply);
      }
      this.ended = new Error('connection closed');
    } catch (err) {
      this.ended = err instanceof Error ? err : new Error(String(err));
    }
    for (const w of this.waiters.splice(0)) w.reject(this.ended);
  }

  /** Allocates a msgid, for callers that build raw requests. */
  msgid(): number {
    return this.nextMsgid++;
  }

  sendRaw(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }

  /** The next reply on this connection, in arrival order. */
  nextReply(): Promise<RpcReply> {
    const queued = this.replies.shift();
    if (queued) return Promise.resolve(queued);
    if (this.ended) return Promise.reject(this.ended);
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  /** Sends one request and returns its reply (error included). */
  async request(method: string, arg: unknown): Promise<RpcReply> {
    const msgid = this.msgid();
    this.sendRaw(encodeRequest(msgid, method, arg));
    const reply = await this.nextReply();
    if (reply.msgid !== msgid) throw new Error(`reply msgid ${reply.msgid} for request ${msgid}`);
    return reply;
  }

  /** Sends one request; resolves to its result, rejects with the error string. */
  async call(method: string, arg: unknown): Promise<unknown> {
    const reply = await this.request(method, arg);
    if (reply.error !== null && reply.error !== undefined) throw new Error(String(reply.error));
    return reply.result;
  }

  close(): void {
    this.socket.destroy();
  }
}
