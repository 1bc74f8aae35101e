#!/usr/bin/env node
// `npm run gateway`: the local stand-in for `docker compose up`. Reads kong.yml, starts the plugin server(s),
// serves Kong's proxy on :8000 and the Admin API subset on :8001, and runs the echo upstream that kong.yml
// names `echo:8080` in the compose stack.
import { spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startGatewayServer } from './gateway';
import { startEchoUpstream } from '../echo-upstream/server';
import { optionsFromEnv, startTrustedBackend } from '../trusted-backend/server';
import { repoRoot } from './plugin-server';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1]
    ? process.argv[i + 1]
    : (process.env[`BULWARK_${name.toUpperCase().replace(/-/g, '_')}`] ?? fallback);
}

/** A throw-away self-signed certificate for Kong's TLS listener (Kong generates one at start too). */
function selfSignedCertificate(): { key: string; cert: string } | undefined {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bulwark-gateway-tls-'));
  const keyFile = path.join(dir, 'key.pem');
  const certFile = path.join(dir, 'cert.pem');
  const r = spawnSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-days',
      '2',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=DNS:localhost,IP:127.0.0.1',
      '-keyout',
      keyFile,
      '-out',
      certFile,
    ],
    { stdio: 'ignore' },
  );
  if (r.status !== 0) return undefined;
  const out = { key: fs.readFileSync(keyFile, 'utf8'), cert: fs.readFileSync(certFile, 'utf8') };
  fs.rmSync(dir, { recursive: true, force: true });
  return out;
}

async function main(): Promise<void> {
  const configPath = path.resolve(arg('config', path.join(repoRoot, 'kong.yml')));
  const server = arg('server', 'bulwark') as 'stock' | 'bulwark';
  const echo = await startEchoUpstream(Number(arg('echo-port', '0')));
  // kong.yml reads bulwark-oauth2's private key from Kong's env vault; for local runs a throw-away key will do.
  let generatedKey = false;
  if (!process.env.BULWARK_OAUTH2_SIGNING_KEY) {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    process.env.BULWARK_OAUTH2_SIGNING_KEY = JSON.stringify({ ...privateKey.export({ format: 'jwk' }), alg: 'ES256' });
    generatedKey = true;
  }
  // The same for bulwark-upstream-trust's key (an Ed25519 JWK).
  let generatedTrustKey = false;
  if (!process.env.BULWARK_UPSTREAM_TRUST_SIGNING_KEY) {
    const { privateKey } = generateKeyPairSync('ed25519');
    process.env.BULWARK_UPSTREAM_TRUST_SIGNING_KEY = JSON.stringify({
      ...privateKey.export({ format: 'jwk' }),
      kid: 'gateway-local',
    });
    generatedTrustKey = true;
  }
  // kong.yml's `trusted-backend:8080`: the demo backend that verifies the gateway's token, on a free local port. Its
  // JWKS URL is the gateway's own proxy, known once the gateway listens (the verifier is built on first request).
  let proxyPortForBackend = 0;
  const trusted = await startTrustedBackend(
    Number(arg('trusted-backend-port', '0')),
    () =>
      optionsFromEnv({
        ...process.env,
        BULWARK_GATEWAY_JWKS_URL: `http://127.0.0.1:${proxyPortForBackend}/.well-known/bulwark-upstream-jwks`,
      }),
    '127.0.0.1',
  );
  const tlsPort = Number(arg('tls-port', '8443'));
  const tls = tlsPort >= 0 ? selfSignedCertificate() : undefined;
  const gw = await startGatewayServer({
    declarativeConfig: fs.readFileSync(configPath, 'utf8'),
    proxyPort: Number(arg('port', '8000')),
    selfProxyPort: 8000, // kong.yml's URLs of the gateway itself (the JWKS) follow --port
    adminPort: Number(arg('admin-port', '8001')),
    listenHost: arg('host', '127.0.0.1'),
    server,
    upstreamAliases: {
      echo: { host: '127.0.0.1', port: echo.port },
      'trusted-backend': { host: '127.0.0.1', port: trusted.port },
    },
    tls: tls && { ...tls, port: tlsPort },
    onLog: process.env.BULWARK_VERBOSE ? (l) => process.stderr.write(l + '\n') : undefined,
  });
  proxyPortForBackend = gw.proxyPort;
  const plugins = [...gw.kong.plugins.values()].map((p) => `${p.info.Name}@${p.info.Version}`).join(', ');
  process.stdout.write(
    `Bulwark gateway (Kong ${'3.9'} emulator, ${server} plugin server)\n` +
      `  config:    ${configPath}\n` +
      `  plugins:   ${plugins || '(none)'}\n` +
      `  proxy:     http://127.0.0.1:${gw.proxyPort}\n` +
      (gw.tlsPort
        ? `  proxy TLS: https://127.0.0.1:${gw.tlsPort} (self-signed certificate)\n`
        : '  proxy TLS: off (no openssl)\n') +
      `  admin API: http://127.0.0.1:${gw.adminPort}\n` +
      `  upstream "echo:8080" served locally on 127.0.0.1:${echo.port}\n` +
      `  upstream "trusted-backend:8080" (verifies the gateway's token) on 127.0.0.1:${trusted.port}\n` +
      (generatedKey ? '  BULWARK_OAUTH2_SIGNING_KEY not set: using a throw-away ES256 key for this run\n' : '') +
      (generatedTrustKey
        ? '  BULWARK_UPSTREAM_TRUST_SIGNING_KEY not set: using a throw-away Ed25519 key for this run\n'
        : ''),
  );
  const shutdown = async () => {
    await gw.close();
    await echo.close();
    await trusted.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown());
  process.on('SIGTERM', () => void shutdown());
}

main().catch((err: Error) => {
  process.stderr.write(`gateway failed to start: ${err.message}\n`);
  process.exit(1);
});
