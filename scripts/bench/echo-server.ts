// The transport + codec floor the plugin-server benches compare against: a bare MessagePack-RPC server on a Unix
// socket that answers every call with its first parameter (one write per reply, like bulwark-pluginserver), or,
// given `reply`, with that value (threat-pluginserver.ts: a small Step answer, as a plugin server sends back, so that
// echoing a request's headers or body back does not count as the floor's work).
import net = require('net');
import { encode } from '@msgpack/msgpack';
import { MessageFramer } from '../../kong/pluginserver/framer';

export function runEchoServer(socketPath: string, reply?: unknown): void {
  const server = net.createServer((socket) => {
    const framer = new MessageFramer();
    socket.on('data', (chunk: Buffer) => {
      for (const message of framer.push(chunk)) {
        const [, msgid, , params] = message as [number, number, string, unknown[]];
        socket.write(encode([1, msgid, null, reply === undefined ? params[0] : reply]));
      }
    });
    socket.on('error', () => socket.destroy());
  });
  server.listen(socketPath);
  process.on('SIGTERM', () => process.exit(0));
}
