// docker-compose.yml must be a valid compose file describing DB-less Kong + redis + the echo upstream.
// `docker-compose config` validates and resolves it without a Docker engine.
import { spawnSync } from 'child_process';
import { join } from 'path';
import { parse } from 'yaml';

const root = join(__dirname, '../..');
const hasCompose = spawnSync('sh', ['-c', 'command -v docker-compose'], { encoding: 'utf8' }).status === 0;
const maybe = hasCompose ? test : test.skip;

interface ComposeService {
  environment?: Record<string, string>;
  ports?: unknown[];
  volumes?: unknown[];
  healthcheck?: { test?: string[] };
  build?: { context?: string; dockerfile?: string };
  image?: string;
  command?: string[];
}

maybe('docker-compose config accepts the file and Kong is configured DB-less from ./kong.yml', () => {
  const r = spawnSync('docker-compose', ['-f', 'docker-compose.yml', 'config'], {
    cwd: root,
    encoding: 'utf8',
    timeout: 60000,
  });
  expect(r.stderr).not.toMatch(/ERROR/);
  expect(r.status).toBe(0);
  const resolved = parse(r.stdout) as { services: Record<string, ComposeService> };
  expect(Object.keys(resolved.services).sort()).toEqual(['echo', 'kong', 'redis', 'trusted-backend']);

  const kong = resolved.services.kong!;
  expect(kong.build?.dockerfile).toBe('kong/Dockerfile');
  expect(kong.environment).toMatchObject({ KONG_DATABASE: 'off', KONG_DECLARATIVE_CONFIG: '/kong/kong.yml' });
  expect(JSON.stringify(kong.volumes)).toContain(`${root}/kong.yml:/kong/kong.yml`);
  expect(kong.healthcheck?.test).toEqual(['CMD', 'kong', 'health']);
  // The Admin API must only be reachable from the host's loopback.
  expect(JSON.stringify(kong.ports)).toContain('127.0.0.1:8001:8001');
  expect(JSON.stringify(kong.ports)).not.toMatch(/"published":\s*8001/);

  expect(resolved.services.redis!.image).toBe('redis:7-alpine');
  expect(resolved.services.echo!.command).toEqual(['node', '/app/dist/js/kong/echo-upstream/server.js']);

  // The backend that verifies bulwark-upstream-trust's token: the compiled demo server, the gateway's JWKS URL on
  // the compose network, and its port on the host's loopback only (to show that a direct request is refused).
  const trusted = resolved.services['trusted-backend']!;
  expect(trusted.command).toEqual(['node', '/app/dist/js/kong/trusted-backend/server.js']);
  expect(trusted.environment).toMatchObject({
    BULWARK_GATEWAY_JWKS_URL: 'http://kong:8000/.well-known/bulwark-upstream-jwks',
    BULWARK_BACKEND_AUDIENCE: 'ledger',
  });
  expect(JSON.stringify(trusted.ports)).toContain('127.0.0.1');
  expect(kong.environment).toHaveProperty('BULWARK_UPSTREAM_TRUST_SIGNING_KEY');
});
