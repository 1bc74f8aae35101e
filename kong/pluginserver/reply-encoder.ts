// Encodes the RPC replies `[1, msgid, error, result]` straight into a reused buffer, producing exactly the bytes that
// @msgpack/msgpack's Encoder (default options) produces for the same array. Profiling the dispatch path showed the
// library's encode as its largest single cost: a fresh array per reply, an ArrayBuffer copy of every reply
// (`bytes.slice`), the extension-codec lookup on every object and a DataView call per byte. Here the reply's envelope
// is written without building the array, and the values a reply carries (numbers, strings, booleans, nil, plain
// arrays and objects, Uint8Array/Buffer) are written by a direct walk. Anything else (a Date, a typed array other than
// Uint8Array, a class instance, a function, a bigint, a symbol, nesting past the library's depth limit, a value whose
// getter throws) makes the whole reply go through the library's Encoder instead, so such values keep the library's
// bytes and its errors. `spec/pluginserver/reply-encoder.test.ts` compares the two byte for byte. One deliberate
// difference, in both paths: an escaped byte (U+DC80–U+DCFF not after a high surrogate, how the framer decodes bytes
// of a Kong string that are not UTF-8: plugins/lib/kong-strings.ts) is written as that byte, so a plugin that copies
// a request header into another gives Kong the client's bytes (the library writes ED B2 80 or EF BF BD);
// `spec/pluginserver/kong-strings.test.ts` pins it.
import { Encoder } from '@msgpack/msgpack';
import { hasEscapedBytes, kongStringBytes } from '../../plugins/lib/kong-strings';
import { newKongEncoder } from './kong-encoder';

/** The library's default maxDepth: the envelope is depth 1, a value deeper than this is the library's error. */
const MAX_DEPTH = 100;
/** Strings up to this many UTF-16 units are written by the JS loop, longer ones natively (the library's threshold). */
const JS_STRING_MAX = 50;
const INITIAL_BYTES = 4096;

export class ReplyEncoder {
  private buf = Buffer.allocUnsafe(INITIAL_BYTES);
  private pos = 0;
  private readonly fallback: Encoder = newKongEncoder();

  /**
   * The reply `[1, msgid, error, result]` (nil for an undefined result) as a Buffer the caller owns. Small replies
   * come from Node's Buffer pool, so a reply costs one small copy and no ArrayBuffer of its own.
   */
  encodeReply(msgid: number, error: string | null, result: unknown): Buffer {
    this.pos = 0;
    this.ensure(11);
    this.buf[this.pos++] = 0x94; // fixarray of 4
    this.buf[this.pos++] = 0x01;
    this.writeNumber(msgid);
    let done: boolean;
    if (error === null) {
      this.buf[this.pos++] = 0xc0;
      try {
        done = this.writeValue(result, 2);
      } catch {
        done = false; // e.g. a getter that throws: the library runs it again and reports its error
      }
    } else {
      this.writeString(error);
      this.ensure(1);
      this.buf[this.pos++] = 0xc0;
      done = true;
    }
    if (!done) {
      const bytes = this.fallback.encode([1, msgid, error, result ?? null]);
      return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    }
    const size = this.pos;
    const out = Buffer.allocUnsafe(size);
    // Most replies are a few dozen bytes: a loop copies them without the view Buffer.copy allocates for a part.
    if (size <= 256) for (let i = 0; i < size; i++) out[i] = this.buf[i];
    else this.buf.copy(out, 0, 0, size);
    return out;
  }

  /** Writes `value` at nesting `depth`; false for a value left to the library (the buffer is then abandoned). */
  private writeValue(value: unknown, depth: number): boolean {
    if (depth > MAX_DEPTH) return false;
    switch (typeof value) {
      case 'string':
        this.writeString(value);
        return true;
      case 'number':
        this.writeNumber(value);
        return true;
      case 'boolean':
        this.ensure(1);
        this.buf[this.pos++] = value ? 0xc3 : 0xc2;
        return true;
      case 'undefined':
        this.ensure(1);
        this.buf[this.pos++] = 0xc0;
        return true;
      case 'object':
        break;
      default:
        return false; // function, bigint, symbol
    }
    if (value === null) {
      this.ensure(1);
      this.buf[this.pos++] = 0xc0;
      return true;
    }
    const proto: unknown = Object.getPrototypeOf(value);
    if (proto === Array.prototype) {
      const items = value as unknown[];
      this.writeHeader(items.length, 0x90, 16, 0xdc, 0xdd);
      for (let i = 0; i < items.length; i++) if (!this.writeValue(items[i], depth + 1)) return false;
      return true;
    }
    if (proto === Object.prototype || proto === null) {
      const map = value as Record<string, unknown>;
      const keys = Object.keys(map);
      this.writeHeader(keys.length, 0x80, 16, 0xde, 0xdf);
      for (const key of keys) {
        this.writeString(key);
        if (!this.writeValue(map[key], depth + 1)) return false;
      }
      return true;
    }
    if (proto === Buffer.prototype || proto === Uint8Array.prototype) {
      const bytes = value as Uint8Array;
      const size = bytes.byteLength;
      if (size >= 0x100000000) return false;
      this.ensure(5 + size);
      if (size < 0x100) {
        this.buf[this.pos++] = 0xc4;
        this.buf[this.pos++] = size;
      } else if (size < 0x10000) {
        this.buf[this.pos++] = 0xc5;
        this.pos = this.buf.writeUInt16BE(size, this.pos);
      } else {
        this.buf[this.pos++] = 0xc6;
        this.pos = this.buf.writeUInt32BE(size, this.pos);
      }
      this.buf.set(bytes, this.pos);
      this.pos += size;
      return true;
    }
    return false;
  }

  /** An array (0x90/0xdc/0xdd) or map (0x80/0xde/0xdf) header. */
  private writeHeader(size: number, fix: number, fixLimit: number, wide16: number, wide32: number): void {
    this.ensure(5);
    if (size < fixLimit) this.buf[this.pos++] = fix + size;
    else if (size < 0x10000) {
      this.buf[this.pos++] = wide16;
      this.pos = this.buf.writeUInt16BE(size, this.pos);
    } else {
      this.buf[this.pos++] = wide32;
      this.pos = this.buf.writeUInt32BE(size, this.pos);
    }
  }

  private writeNumber(n: number): void {
    this.ensure(9);
    const buf = this.buf;
    if (!Number.isSafeInteger(n)) {
      buf[this.pos++] = 0xcb;
      this.pos = buf.writeDoubleBE(n, this.pos);
    } else if (n >= 0) {
      if (n < 0x80) buf[this.pos++] = n;
      else if (n < 0x100) {
        buf[this.pos++] = 0xcc;
        buf[this.pos++] = n;
      } else if (n < 0x10000) {
        buf[this.pos++] = 0xcd;
        this.pos = buf.writeUInt16BE(n, this.pos);
      } else if (n < 0x100000000) {
        buf[this.pos++] = 0xce;
        this.pos = buf.writeUInt32BE(n, this.pos);
      } else {
        buf[this.pos++] = 0xcf;
        this.pos = buf.writeUInt32BE(Math.floor(n / 0x100000000), this.pos);
        this.pos = buf.writeUInt32BE(n % 0x100000000, this.pos);
      }
    } else if (n >= -0x20) buf[this.pos++] = 0xe0 | (n + 0x20);
    else if (n >= -0x80) {
      buf[this.pos++] = 0xd0;
      this.pos = buf.writeInt8(n, this.pos);
    } else if (n >= -0x8000) {
      buf[this.pos++] = 0xd1;
      this.pos = buf.writeInt16BE(n, this.pos);
    } else if (n >= -0x80000000) {
      buf[this.pos++] = 0xd2;
      this.pos = buf.writeInt32BE(n, this.pos);
    } else {
      // Two's complement over 64 bits: the high word floors, the low word is what is left (0..2^32-1).
      const high = Math.floor(n / 0x100000000);
      buf[this.pos++] = 0xd3;
      this.pos = buf.writeInt32BE(high, this.pos);
      this.pos = buf.writeUInt32BE(n - high * 0x100000000, this.pos);
    }
  }

  private writeString(s: string): void {
    const length = s.length;
    if (length > JS_STRING_MAX) {
      if (hasEscapedBytes(s)) {
        this.writeRawString(kongStringBytes(s));
        return;
      }
      // Native UTF-8, like the library's TextEncoder for long strings: a lone surrogate becomes U+FFFD (3 bytes).
      const bytes = Buffer.byteLength(s, 'utf8');
      this.ensure(5 + bytes);
      this.writeStringHeader(bytes);
      this.pos += this.buf.write(s, this.pos, bytes, 'utf8');
      return;
    }
    // Short strings: count, then write. A lone surrogate is written as its own 3 bytes, as the library's JS loop does;
    // a string with an escaped byte is written as kongStringBytes gives it (as kong-encoder.ts does).
    let bytes = 0;
    let ascii = true;
    let escaped = false;
    for (let i = 0; i < length; i++) {
      const c = s.charCodeAt(i);
      if (c < 0x80) bytes += 1;
      else {
        ascii = false;
        if (c < 0x800) bytes += 2;
        else if (c >= 0xd800 && c <= 0xdbff && i + 1 < length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
          bytes += 4;
          i++;
        } else if (c >= 0xdc80 && c <= 0xdcff) {
          escaped = true; // a lone low surrogate in U+DC80–U+DCFF: an escaped byte
          break;
        } else bytes += 3;
      }
    }
    if (escaped) {
      this.writeRawString(kongStringBytes(s));
      return;
    }
    this.ensure(2 + bytes);
    this.writeStringHeader(bytes);
    const buf = this.buf;
    let pos = this.pos;
    if (ascii) {
      for (let i = 0; i < length; i++) buf[pos++] = s.charCodeAt(i);
    } else {
      for (let i = 0; i < length; i++) {
        let c = s.charCodeAt(i);
        if (c < 0x80) {
          buf[pos++] = c;
        } else if (c < 0x800) {
          buf[pos++] = 0xc0 | (c >> 6);
          buf[pos++] = 0x80 | (c & 0x3f);
        } else {
          if (c >= 0xd800 && c <= 0xdbff && i + 1 < length) {
            const low = s.charCodeAt(i + 1);
            if ((low & 0xfc00) === 0xdc00) {
              i++;
              c = 0x10000 + ((c - 0xd800) << 10) + (low - 0xdc00);
              buf[pos++] = 0xf0 | (c >> 18);
              buf[pos++] = 0x80 | ((c >> 12) & 0x3f);
              buf[pos++] = 0x80 | ((c >> 6) & 0x3f);
              buf[pos++] = 0x80 | (c & 0x3f);
              continue;
            }
          }
          buf[pos++] = 0xe0 | (c >> 12);
          buf[pos++] = 0x80 | ((c >> 6) & 0x3f);
          buf[pos++] = 0x80 | (c & 0x3f);
        }
      }
    }
    this.pos = pos;
  }

  /** A str of exactly these bytes (a string holding escaped bytes, as kongStringBytes gives them). */
  private writeRawString(raw: Uint8Array): void {
    this.ensure(5 + raw.length);
    this.writeStringHeader(raw.length);
    this.buf.set(raw, this.pos);
    this.pos += raw.length;
  }

  private writeStringHeader(bytes: number): void {
    if (bytes < 32) this.buf[this.pos++] = 0xa0 + bytes;
    else if (bytes < 0x100) {
      this.buf[this.pos++] = 0xd9;
      this.buf[this.pos++] = bytes;
    } else if (bytes < 0x10000) {
      this.buf[this.pos++] = 0xda;
      this.pos = this.buf.writeUInt16BE(bytes, this.pos);
    } else {
      // Over 4 GiB cannot happen: a JS string is shorter than that in UTF-8.
      this.buf[this.pos++] = 0xdb;
      this.pos = this.buf.writeUInt32BE(bytes, this.pos);
    }
  }

  /** Room for `n` more bytes (the buffer doubles; it is kept for the next reply). */
  private ensure(n: number): void {
    const needed = this.pos + n;
    if (needed <= this.buf.length) return;
    const grown = Buffer.allocUnsafe(Math.max(needed, this.buf.length * 2));
    this.buf.copy(grown, 0, 0, this.pos);
    this.buf = grown;
  }
}
