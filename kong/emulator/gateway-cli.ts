#!/usr/bin/env node
// `npm run gateway`: the local stand-in for `docker compose up`. Reads kong.yml, starts the plugin server(s),
// serves Kong's proxy on :8000 and the Admin API subset on :8001, and runs the echo upstream that kong.yml
// names `echo:8080` in the compose stack.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { startGatewayServer } from './gateway';
import { startEchoUpstream } from '../echo-upstream/server';
import { repoRoot } from './plugin-server';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1] : process.env[`BULWARK_${name.toUpperCase().replace(/-/g, '_')}`] ?? fallback;
}

async function main(): Promise<void> {
  const configPath = path.resolve(arg('config', path.join(repoRoot, 'kong.yml')));
  const server = arg('server', 'bulwark') as 'stock' | 'bulwark';
  const echo = await startEchoUpstream(Number(arg('echo-port', '0')));
  const gw = await startGatewayServer({
    declarativeConfig: fs.readFileSync(configPath, 'utf8'),
    proxyPort: Number(arg('port', '8000')),
    adminPort: Number(arg('admin-port', '8001')),
    listenHost: arg('host', '127.0.0.1'),
    server,
    upstreamAliases: { echo: { host: '127.0.0.1', port: echo.port } },
    onLog: process.env.BULWARK_VERBOSE ? (l) => process.stderr.write(l + '\n') : undefined,
  });
  const plugins = [...gw.kong.plugins.values()].map((p) => `${p.info.Name}@${p.info.Version}`).join(', ');
  process.stdout.write(
    `Bulwark gateway (Kong ${'3.9'} emulator, ${server} plugin server)\n` +
      `  config:    ${configPath}\n` +
      `  plugins:   ${plugins || '(none)'}\n` +
      `  proxy:     http://127.0.0.1:${gw.proxyPort}\n` +
      `  admin API: http://127.0.0.1:${gw.adminPort}\n` +
      `  upstream "echo:8080" served locally on 127.0.0.1:${echo.port}\n`,
  );
  const shutdown = async () => {
    await gw.close();
    await echo.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown());
  process.on('SIGTERM', () => void shutdown());
}

main().catch((err: Error) => {
  process.stderr.write(`gateway failed to start: ${err.message}\n`);
  process.exit(1);
});
