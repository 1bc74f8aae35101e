// Test documents for bulwark-docs: real public OpenAPI documents (spec/fixtures/openapi, each with its licence).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse as parseYaml } from 'yaml';

const DIR = path.join(__dirname, '../../fixtures/openapi');
export const PETSTORE_INTERNAL_FILE = path.join(DIR, 'bulwark-docs/petstore-internal.yaml');

export function fixtureText(rel: string): string {
  return fs.readFileSync(path.join(DIR, rel), 'utf8');
}

export function fixture(rel: string): Record<string, unknown> {
  return parseYaml(fixtureText(rel)) as Record<string, unknown>;
}

/** The petstore with x-internal parts, internal servers and secret examples (bulwark-docs/petstore-internal.yaml). */
export const petstoreInternal = () => fixture('bulwark-docs/petstore-internal.yaml');
export const uspto = () => fixture('oai-examples/uspto.yaml');
export const petstore = () => fixture('oai-examples/petstore.yaml');

/** Every secret planted in petstore-internal.yaml (what must not survive redaction). */
export const PLANTED_SECRETS = [
  'bwk_live_PlZoQOn7D4hqHZzjAAUZrw8tuTv4VVNe_2SpKr6',
  'eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9',
  'PRIVATE KEY',
  'hunter2',
  'correct horse battery staple',
];
