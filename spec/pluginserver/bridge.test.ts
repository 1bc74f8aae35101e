// The PDK bridge handlers get (kong/pluginserver/bridge.ts) against kong-pdk's own (pdk.js), call for call: the same
// {Method, Args} reach Kong, the same results and PDKErrors come back, exit/error resolve without a reply.
import PDK = require('kong-pdk/pdk');
import { newKongBridge } from '../../kong/pluginserver/bridge';
import type { PdkPipe } from '../../kong/pluginserver/events';

/** A pipe that records what the bridge puts and answers each get with the next scripted reply. */
function scriptedPipe(replies: [unknown, unknown][]): PdkPipe & { sent: unknown[] } {
  const sent: unknown[] = [];
  return {
    sent,
    put: (message) => void sent.push(message),
    get: () => Promise.resolve(replies.shift() ?? [undefined, 'no reply scripted']),
  };
}

type AnyKong = Record<string, Record<string, (...args: unknown[]) => Promise<unknown>>> &
  Record<string, Record<string, Record<string, (...args: unknown[]) => Promise<unknown>>>>;

/** Runs the same handler on both bridges; returns what each sent and settled to. */
async function both(
  replies: [unknown, unknown][],
  handler: (kong: AnyKong) => Promise<unknown>,
): Promise<{ ours: unknown; theirs: unknown }> {
  const run = async (make: (pipe: PdkPipe) => unknown) => {
    const pipe = scriptedPipe([...replies]);
    let outcome: unknown;
    try {
      outcome = { value: await handler(make(pipe) as AnyKong) };
    } catch (err) {
      outcome = { error: (err as Error).message, name: (err as Error).name, pdkError: err instanceof PDK.Error };
    }
    return { sent: pipe.sent, outcome };
  };
  return { ours: await run(newKongBridge), theirs: await run((pipe) => new PDK(pipe).kong) };
}

describe('PDK bridge: the same calls as kong-pdk pdk.js', () => {
  test('camelCase segments become snake_case; arguments and results pass through', async () => {
    const { ours, theirs } = await both(
      [
        [{ 'x-a': '1' }, undefined],
        ['https', undefined],
        [null, undefined],
      ],
      async (kong) => [
        await kong.request.getHeaders(200),
        await kong.request.getForwardedScheme(),
        await kong.service.request.setRawQuery('a=1', { deep: [1, 2] }),
      ],
    );
    expect(ours).toEqual(theirs);
    expect((ours as { sent: unknown[] }).sent).toEqual([
      { Method: 'kong.request.get_headers', Args: [200] },
      { Method: 'kong.request.get_forwarded_scheme', Args: [] },
      { Method: 'kong.service.request.set_raw_query', Args: ['a=1', { deep: [1, 2] }] },
    ]);
  });

  test('the same path read again in one event sends the same method (converted names are cached)', async () => {
    const { ours, theirs } = await both(
      [
        ['a', undefined],
        ['b', undefined],
        ['c', undefined],
      ],
      async (kong) => {
        const request = kong.request;
        return [await request.getHeader('x'), await kong.request.getHeader('y'), await request.getHTTPVersion()];
      },
    );
    expect(ours).toEqual(theirs);
    expect((ours as { sent: { Method: string }[] }).sent.map((m) => m.Method)).toEqual([
      'kong.request.get_header',
      'kong.request.get_header',
      'kong.request.get_hTTPVersion',
    ]);
  });

  test("a Kong error rejects with kong-pdk's PDKError and its message", async () => {
    const { ours, theirs } = await both([[undefined, 'header name must be a string']], (kong) =>
      kong.request.getHeader(5),
    );
    expect(ours).toEqual(theirs);
    expect((ours as { outcome: unknown }).outcome).toEqual({
      error: 'PDK method kong.request.get_header failed:  header name must be a string',
      name: 'PDKError',
      pdkError: true,
    });
  });

  test('kong.response.exit and kong.response.error resolve without waiting for a reply', async () => {
    const { ours, theirs } = await both([], async (kong) => [
      await kong.response.exit(403, { message: 'no' }),
      await kong.response.error(500),
    ]);
    expect(ours).toEqual(theirs);
    expect((ours as { outcome: unknown }).outcome).toEqual({ value: [undefined, undefined] });
    expect((ours as { sent: unknown[] }).sent).toHaveLength(2);
  });

  test('bridges of two events never share a pipe', async () => {
    const a = scriptedPipe([['from a', undefined]]);
    const b = scriptedPipe([['from b', undefined]]);
    const kongA = newKongBridge(a) as AnyKong;
    const kongB = newKongBridge(b) as AnyKong;
    expect(await kongB.request.getPath()).toBe('from b');
    expect(await kongA.request.getPath()).toBe('from a');
    expect(a.sent).toEqual([{ Method: 'kong.request.get_path', Args: [] }]);
    expect(b.sent).toEqual([{ Method: 'kong.request.get_path', Args: [] }]);
  });
});
