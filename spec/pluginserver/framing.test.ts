// How requests reach the server: split anywhere, several in one write, bodies around Node's 64 KiB read.
import { encode } from '@msgpack/msgpack';
import { RpcClient, encodeRequest } from '../../kong/pluginserver/rpc-client';
import { EventStep, ServerProcess, sleep, startBulwark, startInstance, startStock, status } from './harness';

/** Writes `bytes` as two writes split at `at`, with a pause so that the server reads them separately. */
async function writeSplit(client: RpcClient, bytes: Uint8Array, at: number): Promise<void> {
  await new Promise<void>((resolve) => client.socket.write(bytes.subarray(0, at), () => resolve()));
  await sleep(2);
  client.sendRaw(bytes.subarray(at));
}

async function expectReply(client: RpcClient, msgid: number): Promise<unknown> {
  const reply = await client.nextReply();
  expect(reply).toMatchObject({ msgid, error: null });
  return reply.result;
}

/** One request message of each kind Kong sends, for a split-point scan. */
interface SplitCase {
  name: string;
  /** Prepares and returns the request bytes; `check` verifies the reply and finishes any event. */
  prepare(client: RpcClient, msgid: number): Promise<{ bytes: Uint8Array; check(result: unknown): Promise<void> }>;
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
        const first = (await client.call('plugin.HandleEvent', { InstanceId: bodyId(), EventName: 'access' })) as EventStep;
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

describe('bulwark-pluginserver framing', () => {
  let server: ServerProcess;
  let client: RpcClient;
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

  for (const testCase of splitCases(() => echoId, () => bodyId)) {
    test(`answers a ${testCase.name} request split at every byte`, async () => {
      const probe = await testCase.prepare(client, 0);
      const length = probe.bytes.length;
      await probe.check(await client.call('plugin.StartInstance', { Name: 'echo', Config: '{"greeting":"split"}' }).catch(() => null));
    });
  }
});
