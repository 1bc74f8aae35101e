// The official SARIF 2.1.0 JSON schema (spec/fixtures/sarif, OASIS) as an Ajv validator, for the `bulwark lint` and
// `bulwark inventory` SARIF tests.
import * as fs from 'node:fs';
import * as path from 'node:path';
import Ajv from 'ajv-draft-04';

export const SARIF_SCHEMA_FILE = path.join(__dirname, '..', 'fixtures', 'sarif', 'sarif-2.1.0-rtm.5.json');

/**
 * Ajv for the SARIF schema (JSON Schema draft-04). `unicodeRegExp: false`: the schema's `language` pattern has a
 * stray `]` that the `u` flag rejects. Formats: uri and uri-reference checked with WHATWG URL parsing.
 */
export function sarifValidator(schema: object = JSON.parse(fs.readFileSync(SARIF_SCHEMA_FILE, 'utf8')) as object) {
  const ajv = new Ajv({ allErrors: true, strict: false, unicodeRegExp: false });
  const parses = (s: string, base?: string) => {
    try {
      new URL(s, base);
      return true;
    } catch {
      return false;
    }
  };
  ajv.addFormat('uri', (s: string) => parses(s));
  ajv.addFormat('uri-reference', (s: string) => parses(s, 'file:///base/'));
  ajv.addFormat('date-time', (s: string) => !Number.isNaN(Date.parse(s)));
  return ajv.compile(schema);
}
