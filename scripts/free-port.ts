// A free TCP port for a server a test or bench starts next (shared by spec/helpers and scripts/bench, which are
// built without spec/: tsconfig.build.json).
import * as fs from 'node:fs';
import * as net from 'node:net';

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/** The lowest port of the range the OS gives to outgoing connections (and to listen(0)). */
function ephemeralLow(): number {
  try {
    return Number(fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]) || 32768;
  } catch {
    return 32768;
  }
}

/**
 * A port nothing listens on, for a server the test starts next. Chosen BELOW the ephemeral range: a port from
 * listen(0) is an ephemeral one, and between the check and the server's bind any outgoing connection of any test
 * can take it as its local port (seen: EADDRINUSE on a busy machine). Each jest worker draws from its own slice.
 */
export async function freePort(): Promise<number> {
  const low = 20000;
  const high = Math.min(ephemeralLow(), 32768);
  const workers = 8;
  const slice = Math.floor((high - low) / workers);
  const worker = (Number(process.env.JEST_WORKER_ID ?? '1') - 1) % workers;
  for (let attempt = 0; slice > 100 && attempt < 50; attempt++) {
    const port = low + worker * slice + Math.floor(Math.random() * slice);
    if (await canListen(port)) return port;
  }
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}
