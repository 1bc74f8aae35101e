// The kong.conf the image generates (kong/pluginserver-env.sh) is executed here the way Kong 3.9 would use it:
// every query command must print one plugin's info as pure JSON, and the one start command must serve a socket
// per plugin. (The image itself cannot be built without a Docker engine.)
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseDump } from '../../kong/schema/plugin-info';
import { RpcClient } from '../../kong/emulator/rpc';
import { workerEnvironment } from '../../kong/emulator/plugin-server';

const root = path.join(__dirname, '..', '..');

function generate(kind: 'bulwark' | 'stock', prefix: string, passEnv = ''): Map<string, string> {
  const r = spawnSync('sh', [path.join(root, 'kong/pluginserver-env.sh'), root], {
    encoding: 'utf8',
    env: {
      ...process.env,
      NODE_BIN: process.execPath,
      BULWARK_PLUGINSERVER: kind,
      KONG_PREFIX_DIR: prefix,
      BULWARK_PLUGINSERVER_ENV: passEnv,
    },
  });
  expect(r.status).toBe(0);
  const conf = new Map<string, string>();
  for (const line of r.stdout.split('\n')) {
    const m = /^([a-z0-9_]+) = (.*)$/.exec(line);
    if (m) conf.set(m[1], m[2]);
  }
  return conf;
}

const builtPlugins = fs.readdirSync(path.join(root, 'dist/plugins')).sort();

describe.each(['bulwark', 'stock'] as const)('kong.conf generated for the %s plugin server', (kind) => {
  test('plugins and pluginserver_names list every built plugin; each has a socket and a query command', () => {
    const conf = generate(kind, '/usr/local/kong');
    // bulwark-guard (Lua, kong/plugins/bulwark-guard) is on by default: it stops Kong's fail-open on plugin-server RPC errors.
    expect(conf.get('plugins')).toBe(['bundled', 'bulwark-guard', ...builtPlugins].join(','));
    expect(conf.get('pluginserver_names')).toBe(builtPlugins.join(','));
    // bulwark-audit (kong.yml's global plugin) is among them: the real-Kong path loads it like the others.
    expect(conf.get('pluginserver_names')!.split(',')).toContain('bulwark-audit');
    for (const name of builtPlugins) {
      const key = name.replace(/-/g, '_');
      expect(conf.get(`pluginserver_${key}_socket`)).toBe(`/usr/local/kong/${name}.sock`);
      expect(conf.get(`pluginserver_${key}_query_cmd`)).toMatch(/^\//); // absolute: Kong's PATH is limited
    }
  });

  test('each query command prints that plugin first, as pure JSON (Kong 3.9 registers only element [0])', () => {
    const conf = generate(kind, '/usr/local/kong');
    for (const name of builtPlugins) {
      const [cmd, ...args] = conf.get(`pluginserver_${name.replace(/-/g, '_')}_query_cmd`)!.split(' ');
      const out = spawnSync(cmd, args, { encoding: 'utf8' });
      expect(out.status).toBe(0);
      expect(parseDump(out.stdout)[0].Name).toBe(name);
    }
  });

  test('the start command(s) serve every plugin on its configured socket', async () => {
    const prefix = fs.mkdtempSync(path.join(os.tmpdir(), 'bulwark-conf-'));
    const conf = generate(kind, prefix);
    const starts = [...conf.entries()].filter(([k]) => k.endsWith('_start_cmd')).map(([, v]) => v);
    expect(starts.length).toBe(kind === 'bulwark' ? 1 : builtPlugins.length);
    const procs = starts.map((s) => {
      const [cmd, ...args] = s.split(' ');
      // As Kong spawns it from an nginx worker (process.lua ngx_pipe.spawn): TZ only, no PATH, no HOME.
      return spawn(cmd, args, { stdio: 'ignore', env: workerEnvironment([]) });
    });
    try {
      for (const name of builtPlugins) {
        const socket = conf.get(`pluginserver_${name.replace(/-/g, '_')}_socket`)!;
        // Until the server listens, connecting fails (no file yet, or bound but not yet listening): retry until then.
        // One Node process per plugin with the stock server, all starting at once: slow on a loaded 2-core machine.
        const deadline = Date.now() + 60_000;
        let answer = '';
        while (Date.now() < deadline) {
          const rpc = new RpcClient(socket);
          answer = await rpc.call('plugin.HandleEvent', { InstanceId: 987654321, EventName: 'access' }).then(
            () => 'no error',
            (e: Error) => e.message,
          );
          rpc.close();
          if (answer !== 'no such file or directory' && answer !== 'connection refused') break;
          await new Promise((r) => setTimeout(r, 20));
        }
        // A plugin server answers on the socket (with the error Kong's instance-restart logic keys on).
        expect(answer).toContain('no plugin instance');
      }
    } finally {
      for (const p of procs) p.kill('SIGTERM');
    }
  }, 120_000);
});

describe('nginx_main_env: what the plugin server may inherit', () => {
  test('none by default (Bulwark needs no variable); BULWARK_PLUGINSERVER_ENV names become `env` directives', () => {
    expect(generate('bulwark', '/usr/local/kong').has('nginx_main_env')).toBe(false);
    expect(generate('bulwark', '/usr/local/kong', 'NODE_EXTRA_CA_CERTS').get('nginx_main_env')).toBe(
      'NODE_EXTRA_CA_CERTS',
    );
    expect(generate('bulwark', '/usr/local/kong', 'NODE_EXTRA_CA_CERTS NODE_OPTIONS').get('nginx_main_env')).toBe(
      'NODE_EXTRA_CA_CERTS; env NODE_OPTIONS',
    );
    const bad = spawnSync('sh', [path.join(root, 'kong/pluginserver-env.sh'), root], {
      encoding: 'utf8',
      env: { ...process.env, BULWARK_PLUGINSERVER_ENV: 'A;B' },
    });
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toContain("invalid variable name 'A;B'");
  });
});

test('kong.conf lists bulwark-guard and the Dockerfile installs its Lua files where Kong requires kong.plugins.<name>', () => {
  const dockerfile = fs.readFileSync(path.join(root, 'kong/Dockerfile'), 'utf8');
  expect(dockerfile).toContain('COPY kong/plugins/bulwark-guard/ /usr/local/share/lua/5.1/kong/plugins/bulwark-guard/');
  for (const file of ['handler.lua', 'schema.lua'])
    expect(fs.existsSync(path.join(root, 'kong/plugins/bulwark-guard', file))).toBe(true);
  const off = spawnSync('sh', [path.join(root, 'kong/pluginserver-env.sh'), root], {
    encoding: 'utf8',
    env: { ...process.env, NODE_BIN: process.execPath, BULWARK_GUARD: 'off' },
  });
  expect(off.stdout).toMatch(/^plugins = bundled,bulwark-[a-z]/m);
  expect(off.stdout).not.toContain('bulwark-guard');
});

test('BULWARK_METRICS_LISTEN: the start command serves /metrics there (bulwark); the stock server ignores it, saying so', async () => {
  const prefix = fs.mkdtempSync(path.join(os.tmpdir(), 'bulwark-conf-'));
  const port = await new Promise<number>((resolve) => {
    const s = require('node:net').createServer() as import('node:net').Server;
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as import('node:net').AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
  const run = (kind: string) =>
    spawnSync('sh', [path.join(root, 'kong/pluginserver-env.sh'), root], {
      encoding: 'utf8',
      env: {
        ...process.env,
        NODE_BIN: process.execPath,
        BULWARK_PLUGINSERVER: kind,
        KONG_PREFIX_DIR: prefix,
        BULWARK_METRICS_LISTEN: `127.0.0.1:${port}`,
      },
    });
  const stock = run('stock');
  expect(stock.stdout).not.toContain('--metrics-listen');
  expect(stock.stderr).toContain('the stock plugin server has no metrics endpoint');
  const startCmd = /_start_cmd = (.*)$/m.exec(run('bulwark').stdout)![1]!;
  expect(startCmd).toMatch(new RegExp(`--metrics-listen 127\\.0\\.0\\.1:${port}$`));
  const [cmd, ...args] = startCmd.split(' ');
  const child = spawn(cmd!, args, { stdio: 'ignore', env: workerEnvironment([]) });
  try {
    let text = '';
    for (let i = 0; i < 100 && text === ''; i++) {
      await new Promise((r) => setTimeout(r, 100));
      text = await fetch(`http://127.0.0.1:${port}/metrics`).then(
        (r) => r.text(),
        () => '',
      );
    }
    expect(text).toContain('# TYPE bulwark_decisions_total counter');
  } finally {
    child.kill('SIGTERM');
    fs.rmSync(prefix, { recursive: true, force: true });
  }
}, 30_000);
