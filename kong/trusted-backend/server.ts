// A demo backend that trusts only the gateway: every request must carry bulwark-upstream-trust's token, verified
// with the verifier kit against the gateway's JWKS; anything else is refused (401 with an error code). It answers
// with what it received and the identity the gateway signed. Only node:http and the verifier kit.
//
//   BULWARK_GATEWAY_JWKS_URL  the plugin's jwks_path URL (default http://kong:8000/.well-known/bulwark-upstream-jwks)
//   BULWARK_GATEWAY_ISSUER    the plugin's issuer (default https://gateway.example.com)
//   BULWARK_BACKEND_AUDIENCE  the plugin's audience (default ledger)
//   PORT                      default 8080
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  createVerifier,
  verifyNodeRequest,
  type Verifier,
  type VerifierOptions,
} from '../../plugins/bulwark-upstream-trust/verifier';

export interface TrustedBackend {
  port: number;
  close(): Promise<void>;
}

/** `options` is read on the first request, so the gateway's address may be decided after the backend starts. */
export function startTrustedBackend(
  port: number,
  options: () => VerifierOptions,
  host = '0.0.0.0',
): Promise<TrustedBackend> {
  let verifier: Verifier | undefined;
  const server = http.createServer((req, res) => {
    verifier ??= createVerifier(options());
    void verifyNodeRequest(verifier, req, res)
      .then((verified) => {
        if (verified === undefined) return;
        const body = JSON.stringify({
          method: req.method,
          path: req.url,
          identity: verified.identity,
          body: verified.body.toString('utf8'),
        });
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
        res.end(body);
      })
      .catch(() => {
        res.statusCode = 500;
        res.end();
      });
  });
  return new Promise((resolve) =>
    server.listen(port, host, () =>
      resolve({
        port: (server.address() as AddressInfo).port,
        close: () =>
          new Promise<void>((r) => {
            server.closeAllConnections();
            server.close(() => r());
          }),
      }),
    ),
  );
}

export function optionsFromEnv(env: NodeJS.ProcessEnv = process.env): VerifierOptions {
  return {
    issuer: env.BULWARK_GATEWAY_ISSUER ?? 'https://gateway.example.com',
    audience: env.BULWARK_BACKEND_AUDIENCE ?? 'ledger',
    jwks: { url: env.BULWARK_GATEWAY_JWKS_URL ?? 'http://kong:8000/.well-known/bulwark-upstream-jwks' },
  };
}

if (require.main === module) {
  void startTrustedBackend(Number(process.env.PORT ?? 8080), () => optionsFromEnv()).then((b) => {
    process.stdout.write(
      `trusted backend on :${b.port}, verifying gateway tokens (${optionsFromEnv().jwks && JSON.stringify(optionsFromEnv().jwks)})\n`,
    );
  });
}
