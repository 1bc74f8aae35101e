// bulwark-response-headers' config: the declared fields (schema.ts), with the names lower-cased and de-duplicated
// once per instance.
import { readConfig } from '../lib/fields';
import { ConfigFields } from './schema';

export interface ResponseHeadersConfig {
  /** Lower-case, distinct names. */
  remove: string[];
}

export function parseResponseHeadersConfig(raw: unknown): ResponseHeadersConfig {
  const conf = readConfig(ConfigFields, raw);
  return { remove: [...new Set(conf.remove.map((name) => name.toLowerCase()))] };
}
