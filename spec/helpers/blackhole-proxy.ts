// A TCP proxy on 127.0.0.1 for tests: forwards to a real server, and can blackhole the connections open at a
// given moment (stop forwarding both ways, close nothing, answer no FIN) while still accepting and forwarding
// new ones, as a lost NAT or conntrack entry does to one long-lived connection.
import * as net from 'node:net';

interface Pair {
  client: net.Socket;
  upstream: net.Socket;
  blackholed: boolean;
}

export class BlackholeProxy {
  private readonly pairs = new Set<Pair>();
  accepted = 0;

  private constructor(
    private readonly server: net.Server,
    readonly port: number,
  ) {}

  static async start(targetPort: number, targetHost = '127.0.0.1'): Promise<BlackholeProxy> {
    let proxy: BlackholeProxy | undefined;
    // allowHalfOpen: a FIN from a blackholed client is not answered by ours.
    const server = net.createServer({ allowHalfOpen: true }, (client) => {
      proxy!.accepted++;
      const upstream = net.connect({ port: targetPort, host: targetHost, allowHalfOpen: true });
      const pair: Pair = { client, upstream, blackholed: false };
      proxy!.pairs.add(pair);
      const forward = (from: net.Socket, to: net.Socket): void => {
        from.on('data', (chunk: Buffer) => {
          if (!pair.blackholed) to.write(chunk);
        });
        from.on('end', () => {
          if (!pair.blackholed) to.end();
        });
        from.on('error', () => undefined);
        from.on('close', () => {
          if (!pair.blackholed) to.destroy();
        });
      };
      forward(client, upstream);
      forward(upstream, client);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    proxy = new BlackholeProxy(server, (server.address() as net.AddressInfo).port);
    return proxy;
  }

  /** Blackholes every connection open now; returns how many. */
  blackholeOpenConnections(): number {
    let n = 0;
    for (const pair of this.pairs) {
      if (!pair.blackholed && !pair.client.destroyed) {
        pair.blackholed = true;
        n++;
      }
    }
    return n;
  }

  async close(): Promise<void> {
    for (const { client, upstream } of this.pairs) {
      client.destroy();
      upstream.destroy();
    }
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
