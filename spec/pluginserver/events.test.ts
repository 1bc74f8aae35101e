// Event lifecycle: which events end when, and that the table does not grow.
import { RpcTestClient, encodeRequest } from '../../kong/test-tools/rpc-test-client';
import { EventStep, ServerProcess, sleep, startBulwark, startInstance, status, waitFor } from './harness';

describe('bulwark-pluginserver events', () => {
  let server: ServerProcess;
  let client: RpcTestClient;

  beforeAll(async () => {
    server = await startBulwark();
    client = await server.connect('all.sock');
  });
  afterAll(async () => {
    client?.close();
    await server?.kill();
  });

  test('runs an event to "ret" and ends it', async () => {
    const id = await startInstance(client, 'echo', { greeting: 'yo' });
    const first = (await client.call('plugin.HandleEvent', { InstanceId: id, EventName: 'access' })) as EventStep;
    expect(first.Data).toEqual({ Method: 'kong.request.get_header', Args: ['x-echo'] });
    expect((await status(client)).Events).toBe(1);
    // Kong omits Data for a nil result: the plugin sees undefined.
    const second = (await client.call('plugin.StepMultiMap', { EventId: first.EventId })) as EventStep;
    expect(second).toEqual({
      EventId: first.EventId,
      Data: { Method: 'kong.response.set_header', Args: ['x-echoed', 'yo:undefined'] },
    });
    expect(await client.call('plugin.Step', { EventId: first.EventId })).toEqual({
      EventId: first.EventId,
      Data: 'ret',
    });
    expect((await status(client)).Events).toBe(0);
    expect(await client.request('plugin.Step', { EventId: first.EventId })).toMatchObject({
      error: `event id ${first.EventId} not found`,
    });
  });

  test('ends the event at kong.response.exit: 1000 exits leave no event behind', async () => {
    const id = await startInstance(client, 'exit');
    for (let i = 0; i < 1000; i++) {
      // Driven the Kong way: the exit is never stepped.
      const step = (await client.call('plugin.HandleEvent', { InstanceId: id, EventName: 'access' })) as EventStep;
      expect(step.Data).toEqual({ Method: 'kong.response.exit', Args: [403, 'denied'] });
    }
    expect((await status(client)).Events).toBe(0);
  });

  test('a handler that throws ends the request with Kong\'s 500 where Kong allows an exit (stock server.js answers "ret": fail-open)', async () => {
    const id = await startInstance(client, 'thrower');
    const access = (await client.call('plugin.HandleEvent', { InstanceId: id, EventName: 'access' })) as EventStep;
    expect(access.Data).toEqual({
      Method: 'kong.response.exit',
      Args: [500, { message: 'An unexpected error occurred' }],
    });
    const log = (await client.call('plugin.HandleEvent', { InstanceId: id, EventName: 'log' })) as EventStep;
    expect(log.Data).toBe('ret'); // no exit in the log phase: Kong would raise a Lua error
    expect((await status(client)).Events).toBe(0);
    expect(server.stderr).toContain('"answer":"kong.response.exit(500)"');
  });

  test('fails a PDK call the plugin makes after exit, at once, instead of leaving it pending', async () => {
    const id = await startInstance(client, 'exit', { report_after_exit: true });
    const step = (await client.call('plugin.HandleEvent', { InstanceId: id, EventName: 'access' })) as EventStep;
    await waitFor('the fixture to report', () => server.stderr.includes('"afterExit"'));
    expect(server.stderr).toContain(
      `"afterExit":"rejected: PDK method kong.request.get_header failed:  event ${step.EventId} has ended (kong.response.exit was called)"`,
    );
    expect((await status(client)).Events).toBe(0);
  });

  test('ends an event whose reply Kong stopped waiting for when the connection closes', async () => {
    const other = await server.connect('all.sock');
    const id = await startInstance(other, 'slow', { delay_ms: 1500 });
    const first = (await other.call('plugin.HandleEvent', { InstanceId: id, EventName: 'access' })) as EventStep;
    // This Step's reply comes only after the plugin's 1.5 s wait; the connection closes before that.
    other.sendRaw(encodeRequest(other.msgid(), 'plugin.Step', { EventId: first.EventId, Data: 'x' }));
    await sleep(50);
    expect((await status(client)).Events).toBe(1);
    other.close();
    await waitFor('the event to end', async () => (await status(client)).Events === 0, 1000);
    // When the plugin wakes up, its next PDK call fails instead of hanging.
    await waitFor('the fixture to report', () => server.stderr.includes('"fixture":"slow"'));
    expect(server.stderr).toMatch(
      /"afterWait":"rejected: .*has ended \(the connection closed while Kong waited for the reply\)"/,
    );
  });

  test('keeps an event Kong holds across a connection close: Kong may step it on another pooled connection', async () => {
    const first = await server.connect('all.sock');
    const id = await startInstance(first, 'echo', { greeting: 'pool' });
    const step = (await first.call('plugin.HandleEvent', { InstanceId: id, EventName: 'access' })) as EventStep;
    first.close();
    await sleep(50);
    expect((await status(client)).Events).toBe(1);
    const next = (await client.call('plugin.Step', { EventId: step.EventId, Data: 'v' })) as EventStep;
    expect(next.Data).toEqual({ Method: 'kong.response.set_header', Args: ['x-echoed', 'pool:v'] });
    expect(((await client.call('plugin.Step', { EventId: step.EventId })) as EventStep).Data).toBe('ret');
    expect((await status(client)).Events).toBe(0);
  });

  test('answers with the error texts Kong and its operators rely on', async () => {
    expect(await client.request('plugin.HandleEvent', { InstanceId: 12345, EventName: 'access' })).toMatchObject({
      error: 'no plugin instance #12345',
    });
    expect(await client.request('plugin.CloseInstance', 12345)).toMatchObject({ error: 'no plugin instance #12345' });
    expect(await client.request('plugin.Step', { EventId: 777 })).toMatchObject({ error: 'event id 777 not found' });
    expect(await client.request('plugin.Nope', {})).toMatchObject({ error: 'method Nope not implemented' });
    expect(await client.request('other.Thing', {})).toMatchObject({ error: 'RPC for other is not supported' });
    // kong-pdk's listener.js calls any property of its server object by name; here only RPC methods exist.
    expect(await client.request('plugin.constructor', {})).toMatchObject({
      error: 'method constructor not implemented',
    });
    expect(await client.request('plugin.StartInstance', { Name: 'nope', Config: '{}' })).toMatchObject({
      error: 'plugin "nope" is not loaded',
    });
  });

  test('a per-plugin socket serves only its plugin', async () => {
    const echoSocket = await server.connect('echo.sock');
    const bodyId = await startInstance(client, 'body');
    expect(await echoSocket.request('plugin.StartInstance', { Name: 'body', Config: '{}' })).toMatchObject({
      error: 'plugin "body" is not served on the socket of "echo"',
    });
    expect(await echoSocket.request('plugin.HandleEvent', { InstanceId: bodyId, EventName: 'access' })).toMatchObject({
      error: `no plugin instance #${bodyId}`,
    });
    const echoId = await startInstance(echoSocket, 'echo');
    const step = (await echoSocket.call('plugin.HandleEvent', {
      InstanceId: echoId,
      EventName: 'access',
    })) as EventStep;
    expect(step.Data).toMatchObject({ Method: 'kong.request.get_header' });
    // The tables are shared: the all-plugins socket can continue it.
    await client.call('plugin.Step', { EventId: step.EventId });
    expect(((await client.call('plugin.Step', { EventId: step.EventId })) as EventStep).Data).toBe('ret');
    echoSocket.close();
  });

  test('CloseInstance removes the instance', async () => {
    const id = await startInstance(client, 'echo');
    const before = (await status(client)).Instances;
    expect(await client.call('plugin.CloseInstance', id)).toMatchObject({ Name: 'echo', Id: id });
    expect((await status(client)).Instances).toBe(before - 1);
    expect(await client.request('plugin.HandleEvent', { InstanceId: id, EventName: 'access' })).toMatchObject({
      error: `no plugin instance #${id}`,
    });
  });
});

describe('bulwark-pluginserver idle events', () => {
  test('ends an event Kong never steps again after --event-ttl', async () => {
    const server = await startBulwark(['--event-ttl', '0.5']);
    const client = await server.connect('all.sock');
    try {
      const id = await startInstance(client, 'echo');
      const step = (await client.call('plugin.HandleEvent', { InstanceId: id, EventName: 'access' })) as EventStep;
      expect((await status(client)).Events).toBe(1);
      await waitFor('the idle event to end', async () => (await status(client)).Events === 0, 2000);
      expect(await client.request('plugin.Step', { EventId: step.EventId })).toMatchObject({
        error: `event id ${step.EventId} not found`,
      });
      expect(server.logs().some((l) => l.msg === 'ended idle events')).toBe(true);
    } finally {
      client.close();
      await server.kill();
    }
  });
});
