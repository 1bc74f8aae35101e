// Splits a byte stream into whole MessagePack values. Kong sends no length prefix (mp_rpc.lua Rpc:call),
// and a socket read can hold part of a request or several requests, so the bytes are kept until a whole
// value is there. Finding a value's end only walks its headers (a bin/str body is skipped by its length),
// and the walk RESUMES where the previous read stopped: every byte received is scanned at most once and
// copied at most a constant number of times, whatever the split (linear in the bytes received; rescanning
// from the message start on every read was quadratic). The common case (whole requests in one read)
// decodes straight from the read buffer.
import { Decoder } from '@msgpack/msgpack';
import { decodeKongString } from '../../plugins/lib/kong-strings';

/**
 * Default cap on one message (bytes). The largest thing Kong sends is a body a plugin reads:
 * `kong.request.get_raw_body(max_allowed_file_size)` returns a spooled body up to the limit the plugin passes
 * (bulwark-validator allows at most 64 MiB, bulwark-oauth2 8 KiB) or an in-memory body up to Kong's
 * `client_body_buffer_size` (default 8k). 64 MiB + 8 MiB for the envelope and the rest of the message.
 */
export const DEFAULT_MAX_MESSAGE_BYTES = 72 * 1024 * 1024;

/** A message over the cap (declared or received). The connection is dropped. */
export class MessageTooLargeError extends RangeError {}

/** Byte counts of the fixed-size MessagePack types after their type byte (0xc0..0xdf). */
const FIXED_SIZE: Record<number, number> = {
  0xc0: 0,
  0xc2: 0,
  0xc3: 0, // nil, false, true
  0xca: 4,
  0xcb: 8, // float 32/64
  0xcc: 1,
  0xcd: 2,
  0xce: 4,
  0xcf: 8, // uint 8..64
  0xd0: 1,
  0xd1: 2,
  0xd2: 4,
  0xd3: 8, // int 8..64
  0xd4: 2,
  0xd5: 3,
  0xd6: 5,
  0xd7: 9,
  0xd8: 17, // fixext 1..16 (type byte + data)
};

/** Variable-size types: [bytes of the length field, what the length counts]. */
const VARIABLE_SIZE: Record<number, [1 | 2 | 4, 'bytes' | 'ext' | 'items' | 'pairs']> = {
  0xc4: [1, 'bytes'],
  0xc5: [2, 'bytes'],
  0xc6: [4, 'bytes'], // bin
  0xd9: [1, 'bytes'],
  0xda: [2, 'bytes'],
  0xdb: [4, 'bytes'], // str
  0xc7: [1, 'ext'],
  0xc8: [2, 'ext'],
  0xc9: [4, 'ext'], // ext: length counts the data after the type byte
  0xdc: [2, 'items'],
  0xdd: [4, 'items'], // array
  0xde: [2, 'pairs'],
  0xdf: [4, 'pairs'], // map
};

function readLength(buf: Uint8Array, pos: number, bytes: 1 | 2 | 4): number {
  if (bytes === 1) return buf[pos];
  if (bytes === 2) return (buf[pos] << 8) | buf[pos + 1];
  return buf[pos] * 0x1000000 + ((buf[pos + 1] << 16) | (buf[pos + 2] << 8) | buf[pos + 3]);
}

/**
 * Where a scan of the value starting at `start` stands: `pos` is the next header to read (or, past the
 * buffer, where the last body ends), `pending` how many values are still to skip.
 */
interface ScanState {
  start: number;
  pos: number;
  pending: number;
}

/**
 * Advances `state` over `buf` as far as whole headers allow; true once the value is complete (it ends at
 * `state.pos`). Throws on a byte that is never valid (0xc1) and, as soon as the declared sizes show it,
 * on a value longer than `maxBytes` (every pending value needs at least one more byte).
 */
function advance(buf: Uint8Array, state: ScanState, maxBytes: number): boolean {
  let { pos, pending } = state;
  const { start } = state;
  while (pending > 0 && pos < buf.length) {
    const type = buf[pos];
    let next = pos + 1;
    let more: number; // values this header adds
    if (type <= 0x7f || type >= 0xe0)
      more = 0; // fixint
    else if (type <= 0x8f)
      more = 2 * (type & 0x0f); // fixmap
    else if (type <= 0x9f)
      more = type & 0x0f; // fixarray
    else if (type <= 0xbf) {
      next += type & 0x1f;
      more = 0;
    } // fixstr
    else if (type in FIXED_SIZE) {
      next += FIXED_SIZE[type];
      more = 0;
    } else {
      const entry = VARIABLE_SIZE[type];
      if (!entry) throw new RangeError(`invalid MessagePack type byte 0x${type.toString(16)}`);
      const [lengthBytes, kind] = entry;
      if (next + lengthBytes > buf.length) break; // the length field is split: resume at this header
      const length = readLength(buf, next, lengthBytes);
      next += lengthBytes;
      if (kind === 'bytes') {
        next += length;
        more = 0;
      } else if (kind === 'ext') {
        next += 1 + length;
        more = 0;
      } else more = kind === 'items' ? length : 2 * length;
    }
    pos = next;
    pending += more - 1;
    if (pos - start + pending > maxBytes) {
      throw new MessageTooLargeError(`a message declares more than ${maxBytes} bytes`);
    }
  }
  state.pos = pos;
  state.pending = pending;
  return pending === 0 && pos <= buf.length;
}

/** Finds the end of the MessagePack value at `start` (or the least byte count needed before looking again). */
export function scanValue(buf: Uint8Array, start: number, maxBytes = Infinity): { end: number } | { need: number } {
  const state = { start, pos: start, pending: 1 };
  if (advance(buf, state, maxBytes)) return { end: state.pos };
  return { need: Math.max(state.pos + 1, buf.length + 1) };
}

type KeyDecoder = NonNullable<NonNullable<ConstructorParameters<typeof Decoder>[0]>['keyDecoder']>;

/**
 * Map keys (header names, query names, `EventId`…): every length goes to `decode` (`canBeCached` says yes), which
 * keeps the last strings of up to 16 bytes per length, as the library's CachedKeyDecoder does: a repeated key is
 * then the same (internalized) string, which makes the property store cheaper.
 */
class KongKeyDecoder implements KeyDecoder {
  private readonly cache: { bytes: Uint8Array; key: string }[][] = Array.from(
    { length: MAX_CACHED_KEY_BYTES },
    () => [],
  );

  canBeCached(): boolean {
    return true;
  }

  decode(bytes: Uint8Array, offset: number, byteLength: number): string {
    if (byteLength === 0 || byteLength > MAX_CACHED_KEY_BYTES) {
      return decodeKongString(bytes, offset, offset + byteLength);
    }
    const records = this.cache[byteLength - 1]!;
    next: for (const record of records) {
      for (let i = 0; i < byteLength; i++) if (record.bytes[i] !== bytes[offset + i]) continue next;
      return record.key;
    }
    const key = decodeKongString(bytes, offset, offset + byteLength);
    const record = { bytes: bytes.slice(offset, offset + byteLength), key };
    if (records.length < KEYS_PER_LENGTH) records.push(record);
    else records[(Math.random() * KEYS_PER_LENGTH) | 0] = record;
    return key;
  }
}
const MAX_CACHED_KEY_BYTES = 16;
const KEYS_PER_LENGTH = 16;
const KONG_KEY_DECODER = new KongKeyDecoder();

/**
 * A Decoder whose `str` values and map keys decode with `decodeKongString` (plugins/lib/kong-strings.ts), lossless
 * for the non-UTF-8 bytes Kong passes through. @msgpack/msgpack's own decoding is lenient (strings of ≤ 200 bytes:
 * a bad lead byte swallows the next bytes, ASCII included, and overlong forms decode) or lossy (longer: U+FFFD).
 * Keys go through the `keyDecoder` option. For values the library has no option: `rawStrings` makes a `str` value a
 * byte view, but a `bin` (raw bodies) is one too, so a subclass wraps the method that `rawStrings` routes `str`
 * values through (`decodeString`, private in its typings) and decodes the view. An upgrade that renames it fails
 * at load here and in spec/pluginserver/kong-strings.test.ts, instead of handing plugins byte arrays.
 */
class KongDecoder extends Decoder {}
const DECODE_STRING = 'decodeString';
const libraryDecodeString = (Decoder.prototype as unknown as Record<string, unknown>)[DECODE_STRING];
if (typeof libraryDecodeString !== 'function') {
  throw new Error(`@msgpack/msgpack's Decoder has no ${DECODE_STRING}: kong/pluginserver/framer.ts needs an update`);
}
Object.defineProperty(KongDecoder.prototype, DECODE_STRING, {
  value: function decodeString(this: Decoder, byteLength: number, headerOffset: number): unknown {
    const value: unknown = libraryDecodeString.call(this, byteLength, headerOffset);
    // A map key arrives decoded (KONG_KEY_DECODER); a value as a view of its bytes.
    return value instanceof Uint8Array ? decodeKongString(value, 0, value.length) : value;
  },
});

export function newKongDecoder(): Decoder {
  return new KongDecoder({ rawStrings: true, keyDecoder: KONG_KEY_DECODER });
}

export class MessageFramer {
  /** Bytes of the incomplete value, at [0, held) of `buf` (its capacity can be larger). */
  private buf = new Uint8Array(0);
  private held = 0;
  /** Scan of the incomplete value in `buf`, relative to its start (0). */
  private readonly scan: ScanState = { start: 0, pos: 0, pending: 1 };
  private readonly decoder = newKongDecoder();

  constructor(readonly maxMessageBytes = DEFAULT_MAX_MESSAGE_BYTES) {}

  /**
   * Adds bytes; returns the whole values now available, in order. Throws on bytes that are not MessagePack
   * and MessageTooLargeError on a value over `maxMessageBytes`.
   */
  push(chunk: Uint8Array): unknown[] {
    const values: unknown[] = [];
    let rest = chunk;
    if (this.held > 0) {
      // Finish the held value first: append only as many bytes as it can still need.
      this.append(chunk);
      const held = this.buf.subarray(0, this.held);
      if (!advance(held, this.scan, this.maxMessageBytes)) return values;
      const end = this.scan.pos;
      const fromChunk = end - (this.held - chunk.length); // bytes of this chunk that belong to the held value
      values.push(this.decode(held, 0, end));
      // The decoded value may share memory with `buf` (bin values are views): never write to it again.
      this.buf = new Uint8Array(0);
      this.held = 0;
      rest = chunk.subarray(fromChunk);
    }
    this.scan.start = 0;
    let start = 0;
    while (start < rest.length) {
      const state = { start, pos: start, pending: 1 };
      if (!advance(rest, state, this.maxMessageBytes)) {
        // Keep the tail (at most one read's worth) with its scan, relative to its start.
        this.buf = new Uint8Array(Math.max(rest.length - start, 4096) * 2);
        this.buf.set(rest.subarray(start));
        this.held = rest.length - start;
        this.scan.pos = state.pos - start;
        this.scan.pending = state.pending;
        break;
      }
      values.push(this.decode(rest, start, state.pos));
      start = state.pos;
    }
    if (this.held === 0) this.resetScan();
    return values;
  }

  /** Bytes held for an incomplete value. */
  get pendingBytes(): number {
    return this.held;
  }

  private resetScan(): void {
    this.scan.pos = 0;
    this.scan.pending = 1;
  }

  /** Appends to the held value, doubling the capacity when needed (amortised linear copying). */
  private append(chunk: Uint8Array): void {
    const needed = this.held + chunk.length;
    if (needed > this.buf.length) {
      const grown = new Uint8Array(Math.max(needed, Math.min(this.buf.length * 2, this.maxMessageBytes + 65536)));
      grown.set(this.buf.subarray(0, this.held));
      this.buf = grown;
    }
    this.buf.set(chunk, this.held);
    this.held = needed;
  }

  private decode(buf: Uint8Array, start: number, end: number): unknown {
    // A plain Uint8Array view (not a Buffer), so bin values reach plugins as Uint8Array, as from the stock server.
    return this.decoder.decode(new Uint8Array(buf.buffer, buf.byteOffset + start, end - start));
  }
}
