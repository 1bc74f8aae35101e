// bulwark-pluginserver under hostile or broken peers: a newer server on the same socket paths (kong reload),
// a peer that never reads its replies, a message larger than any Kong sends.
import fs = require('fs');
import net = require('net');
import { encodeRequest } from '../../kong/test-tools/rpc-test-client';
import { ServerProcess, sleep, startBulwark, status, tmpPrefix, waitFor } from './harness';

const MiB = 1024 * 1024;

describe('two servers on one prefix (kong reload)', () => {
  test('stopping the old server leaves the sockets of the new one in place', async () => {
    const prefix = tmpPrefix();
    const older = await startBulwark([], prefix);
    let newer: ServerProcess | undefined;
    try {
      newer = await startBulwark([], prefix);
      older.child.kill('SIGTERM');
      expect(await older.exited).toEqual({ code: 0, signal: null });
      for (const sock of ['all.sock', 'echo.sock', 'body.sock']) {
        expect(fs.existsSync(newer.socket(sock))).toBe(true);
        const client = await newer.connect(sock);
        try {
          expect(((await client.call('plugin.GetStatus', null)) as { Pid: number }).Pid).toBe(newer.child.pid);
        } finally {
          client.close();
        }
      }
      // The newer server, stopped in turn, removes its own sockets.
      newer.child.kill('SIGTERM');
      await newer.exited;
      expect(fs.readdirSync(prefix)).toEqual([]);
    } finally {
      await newer?.kill();
      await older.kill();
    }
  }, 30_000);
});

/** A raw connection that records when the server closes it. */
function rawConnect(path: string): Promise<{ socket: net.Socket; closed: () => boolean }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(path);
    let closed = false;
    socket.on('close', () => (closed = true));
    socket.on('error', () => undefined);
    socket.once('connect', () => resolve({ socket, closed: () => closed }));
    socket.once('error', reject);
  });
}

describe('message size cap', () => {
  test('a bin32 claiming 4 GiB is dropped at once; other connections are served', async () => {
    const server = await startBulwark();
    const { socket, closed } = await rawConnect(server.socket('all.sock'));
    const client = await server.connect('all.sock');
    try {
      // [0, 1, "plugin.Step", [<bin32 of 4 GiB - 1>]] followed by 1 MiB of its data
      const head = Buffer.from(encodeRequest(1, 'plugin.Step', null));
      head[head.length - 1] = 0xc6; // replaces the nil argument with a bin32 header
      socket.write(Buffer.concat([head, Buffer.from([0xff, 0xff, 0xff, 0xff]), Buffer.alloc(MiB)]));
      await waitFor('the server to drop the connection', closed, 5000);
      // The log line travels through the child's stdout pipe, so it may be read after the socket closes.
      await waitFor('the size-cap log line', () =>
        server.logs().some((l) => String(l.msg).includes('over the size cap')),
      );
      expect((await status(client)).Events).toBe(0);
    } finally {
      socket.destroy();
      client.close();
      await server.kill();
    }
  });

  test('an array32 declaring more items than --max-message-mib allows is dropped at once', async () => {
    const server = await startBulwark(['--max-message-mib', '1']);
    const { socket, closed } = await rawConnect(server.socket('all.sock'));
    try {
      // An array32 of 2 Mi items: each needs at least one byte, so 2 MiB at least, over the 1 MiB cap.
      const head = Buffer.from([0xdd, 0x00, 0x20, 0x00, 0x00]);
      socket.write(head);
      await waitFor('the server to drop the connection', closed, 5000);
    } finally {
      socket.destroy();
      await server.kill();
    }
  });
});

describe('backpressure', () => {
  test('a peer that pipelines requests and never reads stops being read; the server does not grow', async () => {
    const server = await startBulwark();
    const monitor = await server.connect('all.sock');
    const { socket } = await rawConnect(server.socket('all.sock'));
    try {
      socket.pause(); // never reads a reply
      const before = ((await monitor.call('plugin.GetStatus', { Gc: false })) as { Rss: number }).Rss;
      // Many small requests with large replies (the plugin info holds the schema), 64 KiB per write.
      const request = Buffer.from(encodeRequest(1, 'plugin.GetPluginInfo', 'noisy-plugin'));
      const batch = Buffer.concat(Array.from({ length: Math.floor(65536 / request.length) }, () => request));
      let sent = 0;
      let stalled = false;
      const deadline = Date.now() + 30_000;
      while (sent < 16 * MiB && Date.now() < deadline) {
        if (!socket.write(batch)) {
          // Wait for the server to read; give up (the server has stopped reading) after 3 s.
          stalled = !(await Promise.race([
            new Promise<boolean>((resolve) => socket.once('drain', () => resolve(true))),
            sleep(3000).then(() => false),
          ]));
          if (stalled) break;
        }
        sent += batch.length;
      }
      const after = ((await monitor.call('plugin.GetStatus', null)) as { Rss: number }).Rss;
      process.stdout.write(
        `non-reading peer: sent ${(sent / MiB).toFixed(1)} MiB of requests, server RSS ${(before / MiB).toFixed(0)} -> ${(after / MiB).toFixed(0)} MiB\n`,
      );
      expect(stalled).toBe(true);
      expect(after - before).toBeLessThan(64 * MiB);
    } finally {
      socket.destroy();
      monitor.close();
      await server.kill();
    }
  }, 60_000);
});
