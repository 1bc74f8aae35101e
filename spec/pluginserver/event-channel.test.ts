// The channel between a handler and the RPC side of one event (kong/pluginserver/events.ts), with the PDK bridge on
// it: FIFO in both directions like kong-pdk's PipePair, whatever the interleaving, and the end of the event wakes
// both sides.
import { newKongBridge } from '../../kong/pluginserver/bridge';
import { ENDED, EventTable, PluginMessage } from '../../kong/pluginserver/events';

type Kong = { request: Record<string, (...args: unknown[]) => Promise<unknown>> };

describe('event channel', () => {
  test('PDK calls made without awaiting reach Kong in call order and get their own results', async () => {
    const event = new EventTable().create('p');
    const kong = newKongBridge(event.pluginPipe) as Kong;
    const results = Promise.all([kong.request.getHeader('a'), kong.request.getHeader('b'), kong.request.getPath()]);
    const seen: unknown[] = [];
    for (const answer of ['A', 'B', '/p']) {
      seen.push(await event.nextMessage());
      event.resume(answer);
    }
    expect(seen).toEqual([
      { Method: 'kong.request.get_header', Args: ['a'] },
      { Method: 'kong.request.get_header', Args: ['b'] },
      { Method: 'kong.request.get_path', Args: [] },
    ]);
    expect(await results).toEqual(['A', 'B', '/p']);
  });

  test('the RPC side waiting before the plugin puts gets the message; results queued before a get are kept', async () => {
    const event = new EventTable().create('p');
    const waiting = event.nextMessage();
    event.pluginPipe.put({ Method: 'kong.request.get_path', Args: [] });
    expect(await waiting).toEqual({ Method: 'kong.request.get_path', Args: [] });
    event.resume('first');
    event.resume(undefined, 'second failed');
    expect(await event.pluginPipe.get()).toEqual(['first', undefined]);
    expect(await event.pluginPipe.get()).toEqual([undefined, 'second failed']);
  });

  test('ending the event wakes a waiting RPC with ENDED and a waiting PDK call with the reason', async () => {
    const event = new EventTable().create('p');
    const kong = newKongBridge(event.pluginPipe) as Kong;
    const call = kong.request.getPath();
    expect((await event.nextMessage()) as PluginMessage).toEqual({ Method: 'kong.request.get_path', Args: [] });
    const next = event.nextMessage();
    event.end('the connection closed');
    expect(await next).toBe(ENDED);
    await expect(call).rejects.toThrow(`PDK method kong.request.get_path failed:  event ${event.id} has ended`);
    // After the end, a PDK call fails at once and puts nothing for Kong.
    await expect(kong.request.getPath()).rejects.toThrow('has ended (the connection closed)');
  });
});
