// A real gateway for bulwark-docs' integration and browser tests: the emulator's HTTP proxy (kong/emulator/gateway.ts)
// over the real plugin server, an echo upstream, and one route `/v2` protected by bulwark-api-key (declarative keys
// with scopes), then bulwark-docs (900), then bulwark-validator (890) with the same document.
import { startEchoUpstream } from '../../../kong/echo-upstream/server';
import { startGatewayServer, type RunningGateway } from '../../../kong/emulator/gateway';
import { issueKey } from '../../../plugins/bulwark-api-key/key-admin';
import { serializeKeyRecord } from '../../../plugins/bulwark-api-key/key-record';
import { serverKind } from '../../helpers/emulator';
import { PETSTORE_INTERNAL_FILE } from './fixtures';

const now = Date.now();
/** Scopes pets:read: sees GET /pets, GET /pets/{id}, GET /health. */
export const READER = issueKey({ prefix: 'bwk_test', id: 'reader', scopes: ['pets:read'] }, now);
/** Scopes pets:read + pets:write + pets:admin: sees every public operation (5). */
export const ADMIN = issueKey(
  { prefix: 'bwk_test', id: 'admin', scopes: ['pets:read', 'pets:write', 'pets:admin'] },
  now,
);

export const DOCS_PATH = '/v2/docs';

export interface DocsGateway {
  gw: RunningGateway;
  url: string;
  close(): Promise<void>;
}

export async function startDocsGateway(logs?: string[]): Promise<DocsGateway> {
  const echo = await startEchoUpstream(0);
  try {
    const keys = JSON.stringify([READER.record, ADMIN.record].map(serializeKeyRecord));
    const gw = await startGatewayServer({
      declarativeConfig: `
_format_version: "3.0"
services:
  - name: pets
    url: http://echo:8080
    routes:
      - { name: pets, paths: ["/v2"], strip_path: false }
plugins:
  - name: bulwark-api-key
    route: pets
    config: { key_prefixes: [bwk_test], lockout: { enabled: false }, keys: ${keys} }
  - name: bulwark-docs
    route: pets
    config:
      openapi: { spec_file: ${JSON.stringify(PETSTORE_INTERNAL_FILE)} }
      path: ${DOCS_PATH}
      public_base_url: https://api.example.com/v2
      remove_extensions: [x-amazon-apigateway-integration]
  - name: bulwark-docs
    route: all-docs
    config: { openapi: { spec_file: ${JSON.stringify(PETSTORE_INTERNAL_FILE)} }, path: /all/docs, filter: none }
  - name: bulwark-validator
    route: pets
    config: { openapi: { spec_file: ${JSON.stringify(PETSTORE_INTERNAL_FILE)}, base_paths: [/v2] } }
`.replace('routes:\n', 'routes:\n      - { name: all-docs, paths: ["/all"], strip_path: false }\n'),
      proxyPort: 0,
      adminPort: 0,
      plugins: ['bulwark-api-key', 'bulwark-docs', 'bulwark-validator'],
      server: serverKind(),
      upstreamAliases: { echo: { host: '127.0.0.1', port: echo.port } },
      ...(logs ? { onLog: (l: string) => logs.push(l) } : {}),
    });
    return {
      gw,
      url: `http://127.0.0.1:${gw.proxyPort}`,
      async close() {
        await gw.close();
        await echo.close();
      },
    };
  } catch (err) {
    await echo.close();
    throw err;
  }
}
