// One declaration per config field (plugins/<name>/schema.ts, lib/fields.ts): the README table is generated from
// it (scripts/config-docs.ts, `npm run docs:config`) and the reader fills the defaults Kong fills.
import * as fs from 'node:fs';
import type { FieldEntry } from '../../kong/schema/types';
import { readConfig, type ConfigFields, type Fields } from '../../plugins/lib/fields';
import {
  BEGIN_MARKER,
  END_MARKER,
  expectedReadme,
  pluginReadmes,
  renderConfigTable,
  withConfigTable,
} from '../../scripts/config-docs';
import { configFor } from '../helpers/plugin-info';
import * as docs from '../../plugins/bulwark-docs/schema';
import * as jwt from '../../plugins/bulwark-jwt/schema';
import * as oauth2 from '../../plugins/bulwark-oauth2/schema';
import * as rateLimit from '../../plugins/bulwark-rate-limit/schema';
import * as responseHeaders from '../../plugins/bulwark-response-headers/schema';
import * as transport from '../../plugins/bulwark-transport/schema';
import * as validator from '../../plugins/bulwark-validator/schema';

describe('README configuration tables are generated from schema.ts', () => {
  const readmes = pluginReadmes();

  it('every plugin README with a schema is covered', () => {
    expect(readmes.map((r) => r.plugin)).toEqual(
      expect.arrayContaining(['bulwark-jwt', 'bulwark-rate-limit', 'bulwark-response-headers']),
    );
  });

  test.each(readmes.map((r) => [r.plugin, r.readme]))(
    '%s: the table matches the schema (else run npm run docs:config)',
    (plugin, readme) => {
      expect(fs.readFileSync(readme, 'utf8')).toBe(expectedReadme(plugin, readme));
    },
  );

  it('a hand edit inside the markers, or a schema change, makes the README stale', () => {
    const schema = responseHeaders.Schema as unknown as FieldEntry[];
    const fresh = withConfigTable(`intro\n${BEGIN_MARKER}\n${END_MARKER}\nrest\n`, renderConfigTable(schema), 'x');
    const edited = fresh.replace('Case-insensitive.', 'Case-sensitive.');
    expect(withConfigTable(edited, renderConfigTable(schema), 'x')).toBe(fresh);
    const changed = JSON.parse(JSON.stringify(schema)) as FieldEntry[];
    changed[0]!.remove!.len_max = 21;
    expect(withConfigTable(fresh, renderConfigTable(changed), 'x')).not.toBe(fresh);
    expect(() => withConfigTable('no markers', '', 'plugins/x/README.md')).toThrow(
      'plugins/x/README.md: add the config-table markers',
    );
  });

  it('the table lists nested fields as dotted paths with type, bounds and default', () => {
    const table = renderConfigTable(rateLimit.Schema as unknown as FieldEntry[]);
    expect(table).toContain('| `limits[].window_seconds` | integer (1–31536000) | — |');
    expect(table).toContain('| `redis.password` | string (≤ 1024 chars, vault reference allowed, encrypted) | — |');
    expect(table).toContain('| `error_code` | integer (400–599) | `429` |');
  });
});

describe('the reader fills the defaults Kong fills, for every plugin (one declaration, two consumers)', () => {
  const cases: [string, ConfigFields<Fields>, Record<string, unknown>][] = [
    [
      'bulwark-jwt',
      jwt.ConfigFields,
      { issuers: [{ issuer: 'https://idp.example.com', keys: ['k'], audiences: ['api'] }] },
    ],
    [
      'bulwark-oauth2',
      oauth2.ConfigFields,
      {
        issuer: 'https://as.example.com',
        audience: ['api'],
        signing_keys: ['k'],
        clients: [{ client_id: 'c', client_secret_hash: '$a$b$c$d' }],
      },
    ],
    [
      'bulwark-rate-limit',
      rateLimit.ConfigFields,
      {
        limits: [{ name: 'm', limit: 1, window_seconds: 1 }],
        redis: { mode: 'cluster', cluster_nodes: [{ host: 'h', port: 1 }] },
      },
    ],
    ['bulwark-docs', docs.ConfigFields, { openapi: { spec: '{}' } }],
    ['bulwark-response-headers', responseHeaders.ConfigFields, {}],
    ['bulwark-transport', transport.ConfigFields, {}],
    ['bulwark-validator', validator.ConfigFields, { openapi: { spec: '{}' } }],
  ];
  test.each(cases)('%s', (_name, fields, input) => {
    const byKong = configFor(fields.def.fields as FieldEntry[], input);
    expect(readConfig(fields, input)).toEqual(readConfig(fields, byKong));
  });
});
