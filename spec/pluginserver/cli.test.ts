// The command line as Kong uses it: query_cmd dumps, start-up failures, SIGTERM.
import fs = require('fs');
import os = require('os');
import path = require('path');
import {
  BAD,
  EventStep,
  GOOD,
  STOCK_BIN,
  STOCK_LAYOUT,
  runCli,
  startBulwark,
  startInstance,
  status,
  waitFor,
} from './harness';

const NOISY_INFO = {
  Name: 'noisy-plugin',
  Version: '2.3.4',
  Phases: ['log'],
  Priority: 5,
  Schema: {
    name: 'noisy-plugin',
    fields: [{ config: { type: 'record', fields: [{ level: { type: 'string', one_of: ['a', 'b'] } }] } }],
  },
};

describe('bulwark-pluginserver --dump-*', () => {
  test('--dump-plugin prints only [info] on stdout, even when the plugin prints while loading', async () => {
    const run = await runCli(['--plugins-root', GOOD, '--dump-plugin', 'noisy-plugin']);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual([NOISY_INFO]);
    expect(run.stderr).toContain('noisy plugin loading');
    expect(run.stderr).toContain('raw stdout write');
  });

  test("--dump-all-plugins prints every plugin, in the stock server's info shape", async () => {
    const run = await runCli(['-d', path.join(GOOD, 'echo'), '-d', path.join(GOOD, 'noisy'), '--dump-all-plugins']);
    expect(run.code).toBe(0);
    const infos = JSON.parse(run.stdout) as { Name: string }[];
    expect(infos.map((i) => i.Name)).toEqual(['echo', 'noisy-plugin']);
    // The stock server's dump of the same plugins: its stdout also carries what the plugin printed, so
    // only its last line is JSON.
    const stock = await runCli(['-d', STOCK_LAYOUT, '--dump-all-plugins'], STOCK_BIN);
    expect(() => JSON.parse(stock.stdout)).toThrow();
    const stockInfos = JSON.parse(stock.stdout.trim().split('\n').pop() ?? '') as { Name: string }[];
    expect(stockInfos.find((i) => i.Name === 'noisy-plugin')).toEqual(NOISY_INFO);
    expect(infos[1]).toEqual(NOISY_INFO);
  });

  test('--dump-plugin of a plugin that is not loaded fails', async () => {
    const run = await runCli(['--plugins-root', GOOD, '--dump-plugin', 'missing']);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain('plugin \\"missing\\" is not among the loaded plugins');
  });
});

describe('bulwark-pluginserver start-up failures', () => {
  const cases: [string, string, RegExp][] = [
    ['throws', 'a plugin that throws while loading', /plugin \\"throws\\" .*failed to load: Error: boom while loading/],
    ['no-index', 'a directory without index.js', /plugin \\"no-index\\" .*no index\.js/],
    [
      'bad-version',
      'a Version Kong refuses',
      /plugin \\"bad-version\\" .*Version must be a \\"x\.y\.z\\" string, got \\"1\.0\\"/,
    ],
  ];
  for (const [dir, what, message] of cases) {
    test(`${what} stops the start with an error naming it, before any socket exists`, async () => {
      const prefix = fs.mkdtempSync(path.join(os.tmpdir(), 'bulwark-ps-'));
      try {
        const run = await runCli(['-d', path.join(GOOD, 'echo'), '-d', path.join(BAD, dir), '-p', prefix]);
        expect(run.code).toBe(1);
        expect(run.stderr).toMatch(message);
        expect(fs.readdirSync(prefix)).toEqual([]);
      } finally {
        fs.rmSync(prefix, { recursive: true, force: true });
      }
    });
  }

  test('an unknown option is a usage error', async () => {
    const run = await runCli(['--plugins-root', GOOD, '--bogus']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('usage: bulwark-pluginserver');
  });
});

describe('bulwark-pluginserver SIGTERM', () => {
  test('creates one socket per plugin, and on SIGTERM removes them and exits 0', async () => {
    const server = await startBulwark();
    try {
      const expected = [
        'all.sock',
        'body.sock',
        'echo.sock',
        'exit.sock',
        'noisy-plugin.sock',
        'slow.sock',
        'thrower.sock',
      ];
      expect(fs.readdirSync(server.prefix).sort()).toEqual(expected);
      server.child.kill('SIGTERM');
      expect(await server.exited).toEqual({ code: 0, signal: null });
      expect(fs.readdirSync(server.prefix)).toEqual([]);
    } finally {
      await server.kill();
    }
  });

  test('lets Kong finish a live event on its open connection before exiting', async () => {
    const server = await startBulwark(['--shutdown-grace', '5']);
    const client = await server.connect('all.sock');
    try {
      const id = await startInstance(client, 'echo');
      const step = (await client.call('plugin.HandleEvent', { InstanceId: id, EventName: 'access' })) as EventStep;
      server.child.kill('SIGTERM');
      await waitFor('the sockets to be removed', () => !fs.existsSync(server.socket('echo.sock')));
      expect(server.exit).toBeNull();
      await client.call('plugin.Step', { EventId: step.EventId, Data: 'v' });
      expect(((await client.call('plugin.Step', { EventId: step.EventId })) as EventStep).Data).toBe('ret');
      const started = Date.now();
      expect(await server.exited).toEqual({ code: 0, signal: null });
      expect(Date.now() - started).toBeLessThan(2000);
      expect(server.logs().find((l) => l.msg === 'stopped')).toMatchObject({ unfinishedEvents: 0 });
    } finally {
      client.close();
      await server.kill();
    }
  });

  test('gives up on events Kong does not finish within --shutdown-grace', async () => {
    const server = await startBulwark(['--shutdown-grace', '0.3']);
    const client = await server.connect('all.sock');
    try {
      const id = await startInstance(client, 'echo');
      await client.call('plugin.HandleEvent', { InstanceId: id, EventName: 'access' });
      expect((await status(client)).Events).toBe(1);
      server.child.kill('SIGTERM');
      expect(await server.exited).toEqual({ code: 0, signal: null });
      expect(server.logs().find((l) => l.msg === 'stopped')).toMatchObject({ unfinishedEvents: 1 });
    } finally {
      client.close();
      await server.kill();
    }
  });
});
