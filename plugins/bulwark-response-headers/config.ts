// bulwark-response-headers' config: the header names to remove, checked and lower-cased once per instance.
import { ConfigError, ConfigReader } from '../lib/config';
import { MAX_REMOVED_HEADERS } from './schema';

export const DEFAULT_REMOVED_HEADERS: readonly string[] = ['Server', 'X-Powered-By', 'Via'];

const HEADER_NAME = /^[A-Za-z0-9-]{1,128}$/;
// Removing these would corrupt the framing of the response Kong sends.
const FRAMING_HEADERS = new Set(['content-length', 'transfer-encoding', 'connection']);

export interface ResponseHeadersConfig {
  /** Lower-case, distinct names. */
  remove: string[];
}

export function parseResponseHeadersConfig(raw: unknown): ResponseHeadersConfig {
  const root = new ConfigReader(raw);
  const names = root.stringArray('remove', DEFAULT_REMOVED_HEADERS);
  if (names.length === 0) throw new ConfigError(root.field('remove'), 'at least one header name is required');
  if (names.length > MAX_REMOVED_HEADERS) throw new ConfigError(root.field('remove'), `at most ${MAX_REMOVED_HEADERS} names`);
  const remove: string[] = [];
  names.forEach((name, i) => {
    const field = `${root.field('remove')}[${i}]`;
    if (!HEADER_NAME.test(name)) throw new ConfigError(field, `invalid header name ${JSON.stringify(name)}`);
    const lower = name.toLowerCase();
    if (FRAMING_HEADERS.has(lower)) throw new ConfigError(field, `${name} frames the response and cannot be removed`);
    if (!remove.includes(lower)) remove.push(lower);
  });
  return { remove };
}
