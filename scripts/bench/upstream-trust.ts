#!/usr/bin/env node
// bulwark-upstream-trust benchmarks, measured side by side in one run (the machine is shared: compare ratios, not
// absolute figures):
// 1. signing cost per request (CPU, in process): JWT EdDSA, JWT ES256, RFC 9421 Ed25519, with a 1 KiB body digest;
// 2. PDK round trips per request and gateway latency through the emulator + real plugin server: a route with the
//    plugin against the same route without it (median of interleaved requests), ratio;
// 3. verify cost in the backend (verifier kit, pinned keys, each request a fresh token) per format and algorithm,
//    against the cost of signing it: ratio.
// Usage: npm run build && node dist/js/scripts/bench/upstream-trust.js [requests=300]
import { generateKeyPairSync } from 'node:crypto';
import { KongEmulator } from '../../kong/emulator/kong';
import { loadDeclarative } from '../../kong/emulator/declarative';
import { startEchoUpstream } from '../../kong/echo-upstream/server';
import { parseUpstreamTrustConfig, type UpstreamTrustConfig } from '../../plugins/bulwark-upstream-trust/config';
import { signMessage, signToken, type RequestBinding } from '../../plugins/bulwark-upstream-trust/sign';
import { createVerifier, type VerifiableRequest } from '../../plugins/bulwark-upstream-trust/verifier';
import { median } from './stats';

const ISSUER = 'https://gw.example.com';

async function timeUs(fn: () => Promise<unknown> | unknown, n: number): Promise<number> {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await fn();
  return Number(process.hrtime.bigint() - t0) / 1e3 / n;
}

const jwk = (k: ReturnType<typeof generateKeyPairSync>['privateKey'], kid: string) =>
  JSON.stringify({ ...(k.export({ format: 'jwk' }) as object), kid });
const edPrivate = jwk(generateKeyPairSync('ed25519').privateKey, 'ed');
const ecPrivate = jwk(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey, 'ec');

async function main(): Promise<void> {
  const requests = Number(process.argv[2] ?? 300);
  const body = Buffer.alloc(1024, 'x');
  const binding: RequestBinding = { method: 'POST', upstreamPath: '/orders', query: 'a=1', host: 'svc:8080', body };
  const variants: [string, UpstreamTrustConfig][] = [
    ['JWT EdDSA', parseUpstreamTrustConfig({ issuer: ISSUER, signing_keys: [edPrivate] })],
    ['JWT ES256', parseUpstreamTrustConfig({ issuer: ISSUER, signing_keys: [ecPrivate] })],
    [
      'RFC 9421 ed25519',
      parseUpstreamTrustConfig({ issuer: ISSUER, signing_keys: [edPrivate], format: 'http-message-signatures' }),
    ],
  ];

  process.stdout.write(`1. signing per request (1 KiB body, in process, ${requests * 5} ops)\n`);
  const signCost = new Map<string, number>();
  for (const [name, conf] of variants) {
    const sign = () =>
      conf.format === 'jwt'
        ? signToken(conf, { binding, identity: undefined, audience: 'svc', nowMs: Date.now() })
        : signMessage(conf, { binding, identity: undefined, audience: 'svc', nowMs: Date.now() });
    await sign(); // warm-up (jose load, key import)
    const us = await timeUs(sign, requests * 5);
    signCost.set(name, us);
    process.stdout.write(`   ${name.padEnd(18)} ${us.toFixed(0)} µs\n`);
  }

  process.stdout.write(`3. verify per request in the backend (verifier kit, pinned JWKS, fresh token each)\n`);
  for (const [name, conf] of variants) {
    const verifier = createVerifier({
      issuer: ISSUER,
      audience: 'svc',
      format: conf.format,
      jwks: { keys: JSON.parse(conf.keys.jwksJson).keys },
    });
    const tokens: VerifiableRequest[] = [];
    for (let i = 0; i < requests * 5 + 1; i++) {
      const headers: Record<string, string> = { host: 'svc:8080' };
      if (conf.format === 'jwt')
        headers['x-bulwark-upstream-token'] = await signToken(conf, {
          binding,
          identity: undefined,
          audience: 'svc',
          nowMs: Date.now(),
        });
      else
        for (const [k, v] of Object.entries(
          signMessage(conf, { binding, identity: undefined, audience: 'svc', nowMs: Date.now() }),
        ))
          headers[k.toLowerCase()] = String(v);
      tokens.push({ method: 'POST', url: '/orders?a=1', headers, body });
    }
    let i = 0;
    const first = await verifier.verify(tokens[i++]!);
    if (!first.ok) throw new Error(`verify failed: ${first.error}`);
    const us = await timeUs(async () => {
      const r = await verifier.verify(tokens[i++]!);
      if (!r.ok) throw new Error(`verify failed: ${r.error}`);
    }, requests * 5);
    process.stdout.write(
      `   ${name.padEnd(18)} ${us.toFixed(0)} µs  (verify/sign ${(us / signCost.get(name)!).toFixed(2)})\n`,
    );
  }

  process.stdout.write(`2. through the emulator (bulwark-pluginserver), ${requests} interleaved GETs per route\n`);
  const echo = await startEchoUpstream(0);
  const kong = await KongEmulator.start({ server: 'bulwark', plugins: ['bulwark-upstream-trust'] });
  try {
    kong.setConfig(
      loadDeclarative(
        JSON.stringify({
          _format_version: '3.0',
          services: [
            {
              name: 'svc',
              url: `http://127.0.0.1:${echo.port}`,
              routes: [
                { name: 'plain', paths: ['/plain'] },
                { name: 'signed', paths: ['/signed'] },
                { name: 'signed-aud', paths: ['/signed-aud'] },
              ],
            },
          ],
          plugins: [
            { name: 'bulwark-upstream-trust', route: 'signed', config: { issuer: ISSUER, signing_keys: [edPrivate] } },
            {
              name: 'bulwark-upstream-trust',
              route: 'signed-aud',
              config: { issuer: ISSUER, signing_keys: [edPrivate], audience: 'svc', upstream_host: 'svc:8080' },
            },
          ],
        }),
        { knownPlugins: new Set(kong.plugins.keys()) },
      ),
    );
    const plain: number[] = [];
    const signed: number[] = [];
    let pdk = 0;
    let pdkConfigured = 0;
    let pdkPost = 0;
    for (let i = 0; i < 20; i++) {
      await kong.request({ path: '/plain/x' });
      await kong.request({ path: '/signed/x' });
    }
    for (let i = 0; i < requests; i++) {
      let t0 = process.hrtime.bigint();
      await kong.request({ path: '/plain/x' });
      plain.push(Number(process.hrtime.bigint() - t0) / 1e3);
      t0 = process.hrtime.bigint();
      const r = await kong.request({ path: '/signed/x' });
      signed.push(Number(process.hrtime.bigint() - t0) / 1e3);
      pdk = r.report.pdkCalls.filter(([p]) => p === 'bulwark-upstream-trust').length;
    }
    pdkConfigured = (await kong.request({ path: '/signed-aud/x' })).report.pdkCalls.filter(
      ([p]) => p === 'bulwark-upstream-trust',
    ).length;
    pdkPost = (await kong.request({ method: 'POST', path: '/signed/x', body: body.toString() })).report.pdkCalls.filter(
      ([p]) => p === 'bulwark-upstream-trust',
    ).length;
    process.stdout.write(
      `   PDK round trips: GET ${pdk} (audience and upstream_host configured: ${pdkConfigured}), POST with body ${pdkPost}\n`,
    );
    const mp = median(plain);
    const ms = median(signed);
    process.stdout.write(
      `   median latency: without ${mp.toFixed(0)} µs, with ${ms.toFixed(0)} µs, ratio ${(ms / mp).toFixed(2)}\n`,
    );
  } finally {
    await kong.stop();
    await echo.close();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exitCode = 1;
});
