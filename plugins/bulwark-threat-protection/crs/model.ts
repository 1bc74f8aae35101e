// The request as CRS rules see it: a flat list of (collection, name, value) with values as byte strings (one
// char per byte), ModSecurity's variable names for the collections.

export type Collection =
  | 'ARGS_GET'
  | 'ARGS_POST'
  | 'ARGS_GET_NAMES'
  | 'ARGS_POST_NAMES'
  | 'REQUEST_COOKIES'
  | 'REQUEST_COOKIES_NAMES'
  | 'REQUEST_HEADERS'
  | 'REQUEST_HEADERS_NAMES'
  | 'FILES'
  | 'FILES_NAMES'
  | 'REQUEST_FILENAME'
  | 'REQUEST_BASENAME'
  | 'REQUEST_URI'
  | 'REQUEST_URI_RAW'
  | 'QUERY_STRING'
  | 'REQUEST_LINE'
  | 'REQUEST_BODY'
  | 'REQUEST_METHOD';

export const COLLECTIONS: readonly Collection[] = [
  'ARGS_GET',
  'ARGS_POST',
  'ARGS_GET_NAMES',
  'ARGS_POST_NAMES',
  'REQUEST_COOKIES',
  'REQUEST_COOKIES_NAMES',
  'REQUEST_HEADERS',
  'REQUEST_HEADERS_NAMES',
  'FILES',
  'FILES_NAMES',
  'REQUEST_FILENAME',
  'REQUEST_BASENAME',
  'REQUEST_URI',
  'REQUEST_URI_RAW',
  'QUERY_STRING',
  'REQUEST_LINE',
  'REQUEST_BODY',
  'REQUEST_METHOD',
];

/** Collections ModSecurity spells as unions. */
export const COLLECTION_ALIASES: Readonly<Record<string, readonly Collection[]>> = {
  ARGS: ['ARGS_GET', 'ARGS_POST'],
  ARGS_NAMES: ['ARGS_GET_NAMES', 'ARGS_POST_NAMES'],
};

export interface RequestValue {
  collection: Collection;
  /** The key inside the collection (argument, cookie or header name); '' for scalar collections. */
  name: string;
  /** Byte string: one char per byte. */
  value: string;
}

/** Bytes as a byte string. */
export function bytesToByteString(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1');
}

/** The variable name a log line shows, ModSecurity style: `ARGS:q`, `REQUEST_HEADERS:User-Agent`. */
export function variableName(v: Pick<RequestValue, 'collection' | 'name'>): string {
  const c = v.collection === 'ARGS_GET' || v.collection === 'ARGS_POST' ? 'ARGS' : v.collection;
  const n = c === 'ARGS_GET_NAMES' || c === 'ARGS_POST_NAMES' ? 'ARGS_NAMES' : c;
  return v.name === '' ? n : `${n}:${v.name}`;
}
