// How requests reach the server: split anywhere, several in one write, bodies around Node's 64 KiB read.
import { RpcTestClient, encodeRequest } from '../../kong/test-tools/rpc-test-client';
import { EventStep, ServerProcess, sleep, startBulwark, startInstance, startStock, status } from './harness';

/** Writes `bytes` as two writes split at `at`, with a pause so that the server reads them separately. */
async function writeSplit(client: RpcTestClient, bytes: Uint8Array, at: number): Promise<void> {
  if (at >= bytes.length) return client.sendRaw(bytes);
  await new Promise<void>((resolve) => client.socket.write(bytes.subarray(0, at), () => resolve()));
  await sleep(2);
  client.sendRaw(bytes.subarray(at));
}

async function expectReply(client: RpcTestClient, msgid: number): Promise<unknown> {
  const reply = await client.nextReply();
  expect(reply).toMatchObject({ msgid, error: null });
  return reply.result;
}

/** One request message of each kind Kong sends, for a split-point scan. */
interface SplitCase {
  name: string;
  /** Prepares and returns the request bytes; `check` verifies the reply and finishes any event. */
  prepare(client: RpcTestClient, msgid: number): Promise<{ bytes: Uint8Array; check(result: unknown): Promise<void> }>;
}

function splitCases(echoId: () => number, bodyId: () => number): SplitCase[] {
  return [
    {
      name: 'StartInstance',
      prepare: async (client, msgid) => ({
        bytes: encodeRequest(msgid, 'plugin.StartInstance', { Name: 'echo', Config: '{"greeting":"split"}' }),
        check: async (result) => {
          const { Id, Config } = result as { Id: number; Config: unknown };
          expect(Config).toEqual({ greeting: 'split' });
          await client.call('plugin.CloseInstance', Id);
        },
      }),
    },
    {
      name: 'HandleEvent',
      prepare: async (client, msgid) => ({
        bytes: encodeRequest(msgid, 'plugin.HandleEvent', { InstanceId: echoId(), EventName: 'access' }),
        check: async (result) => {
          const step = result as EventStep;
          expect(step.Data).toEqual({ Method: 'kong.request.get_header', Args: ['x-echo'] });
          await client.call('plugin.Step', { EventId: step.EventId, Data: 'v' });
          expect(((await client.call('plugin.Step', { EventId: step.EventId })) as EventStep).Data).toBe('ret');
        },
      }),
    },
    {
      name: 'Step with a bin body',
      prepare: async (client, msgid) => {
        const first = (await client.call('plugin.HandleEvent', {
          InstanceId: bodyId(),
          EventName: 'access',
        })) as EventStep;
        const body = Uint8Array.from({ length: 40 }, (_, i) => i + 1);
        return {
          bytes: encodeRequest(msgid, 'plugin.Step', { EventId: first.EventId, Data: body }),
          check: async (result) => {
            expect((result as EventStep).Data).toEqual({ Method: 'kong.log.info', Args: ['40:1:40'] });
            expect(((await client.call('plugin.Step', { EventId: first.EventId })) as EventStep).Data).toBe('ret');
          },
        };
      },
    },
  ];
}

/** Sends the case's message split at every byte (and once whole); returns how many split points were sent. */
async function scanSplitPoints(client: RpcTestClient, testCase: SplitCase): Promise<number> {
  let length = Infinity;
  let at = 1;
  for (; at <= length; at++) {
    const msgid = client.msgid();
    const { bytes, check } = await testCase.prepare(client, msgid);
    length = bytes.length;
    await writeSplit(client, bytes, at);
    await check(await expectReply(client, msgid));
  }
  return at - 2;
}

describe('bulwark-pluginserver framing', () => {
  let server: ServerProcess;
  let client: RpcTestClient;
  let echoId = -1;
  let bodyId = -1;

  beforeAll(async () => {
    server = await startBulwark();
    client = await server.connect('all.sock');
    echoId = await startInstance(client, 'echo', { greeting: 'hi' });
    bodyId = await startInstance(client, 'body');
  });
  afterAll(async () => {
    client?.close();
    await server?.kill();
  });

  for (const testCase of splitCases(
    () => echoId,
    () => bodyId,
  )) {
    test(`answers a ${testCase.name} request split at every byte`, async () => {
      const splitPoints = await scanSplitPoints(client, testCase);
      expect(splitPoints).toBeGreaterThan(30);
      expect(await status(client)).toMatchObject({ Events: 0, Instances: 2 });
    });
  }

  test('answers several requests written at once, in order', async () => {
    const ids = [client.msgid(), client.msgid(), client.msgid()];
    const batch = Buffer.concat([
      encodeRequest(ids[0], 'plugin.StartInstance', { Name: 'echo', Config: '{"greeting":"batch"}' }),
      encodeRequest(ids[1], 'plugin.GetStatus', null),
      encodeRequest(ids[2], 'plugin.CloseInstance', 424242),
    ]);
    client.sendRaw(batch);
    const started = (await expectReply(client, ids[0])) as { Id: number };
    expect(await expectReply(client, ids[1])).toMatchObject({ Instances: 3 });
    expect(await client.nextReply()).toEqual({ msgid: ids[2], error: 'no plugin instance #424242', result: null });
    await client.call('plugin.CloseInstance', started.Id);
  });

  test('takes Step bodies of every size from 65400 to 65600 bytes, each in one write', async () => {
    // Node reads a Unix socket 65536 bytes at a time: these sizes put that boundary on every byte of the
    // request's headers. Both key orders, since Lua's table order decides which Kong sends.
    for (let size = 65400; size <= 65600; size++) {
      const body = new Uint8Array(size).fill(7);
      body[0] = 1;
      body[size - 1] = 2;
      for (const dataFirst of [true, false]) {
        const first = (await client.call('plugin.HandleEvent', {
          InstanceId: bodyId,
          EventName: 'access',
        })) as EventStep;
        const arg = dataFirst ? { Data: body, EventId: first.EventId } : { EventId: first.EventId, Data: body };
        const logged = (await client.call('plugin.Step', arg)) as EventStep;
        expect(logged.Data).toEqual({ Method: 'kong.log.info', Args: [`${size}:1:2`] });
        expect(((await client.call('plugin.Step', { EventId: first.EventId })) as EventStep).Data).toBe('ret');
      }
    }
    expect((await status(client)).Events).toBe(0);
  });

  test('closes a connection that sends bytes that are not MessagePack, and keeps serving others', async () => {
    const bad = await server.connect('all.sock');
    const closed = new Promise((resolve) => bad.socket.once('close', resolve));
    bad.sendRaw(Uint8Array.from([0xc1, 0xc1, 0xc1])); // 0xc1 is "never used" in MessagePack
    await closed;
    expect((await status(client)).Events).toBe(0);
  });
});

describe('the stock kong-js-pluginserver, for comparison (it crashes: that is the defect fixed here)', () => {
  let stock: ServerProcess;
  afterEach(async () => {
    await stock?.kill();
  });

  test('dies on a request split at some byte positions', async () => {
    stock = await startStock();
    const client = await stock.connect('stock.sock');
    const echoId = await startInstance(client, 'echo', { greeting: 'hi' });
    const bodyId = await startInstance(client, 'body');
    let crashedOn: string | null = null;
    for (const testCase of splitCases(
      () => echoId,
      () => bodyId,
    )) {
      try {
        await scanSplitPoints(client, testCase);
      } catch {
        crashedOn = testCase.name;
        break;
      }
    }
    expect(crashedOn).not.toBeNull();
    const exit = await stock.exited;
    expect(exit.code).not.toBe(0);
    expect(stock.stderr).toMatch(/RangeError/);
  });

  test('dies on two requests in one write', async () => {
    stock = await startStock();
    const client = await stock.connect('stock.sock');
    client.sendRaw(
      Buffer.concat([encodeRequest(1, 'plugin.GetStatus', null), encodeRequest(2, 'plugin.GetStatus', null)]),
    );
    await expect(client.nextReply()).rejects.toThrow();
    expect((await stock.exited).code).not.toBe(0);
    expect(stock.stderr).toMatch(/RangeError: Extra \d+ of \d+ byte/);
  });
});
