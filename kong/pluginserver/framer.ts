// Splits a byte stream into whole MessagePack values. Kong sends no length prefix (mp_rpc.lua Rpc:call),
// and a socket read can hold part of a request or several requests, so the bytes are kept until a whole
// value is there. Finding a value's end only walks its headers (a bin/str body is skipped by its length),
// so a large body arriving in many 64 KiB reads is scanned once per read and copied once, and the common
// case (one whole request per read) decodes straight from the read buffer without exceptions.
import { Decoder } from '@msgpack/msgpack';

/** Where the value starting at `start` ends, or how many bytes (from 0) are needed before looking again. */
type Scan = { end: number } | { need: number };

/** Byte counts of the fixed-size MessagePack types after their type byte (0xc0..0xdf). */
const FIXED_SIZE: Record<number, number> = {
  0xc0: 0, 0xc2: 0, 0xc3: 0, // nil, false, true
  0xca: 4, 0xcb: 8, // float 32/64
  0xcc: 1, 0xcd: 2, 0xce: 4, 0xcf: 8, // uint 8..64
  0xd0: 1, 0xd1: 2, 0xd2: 4, 0xd3: 8, // int 8..64
  0xd4: 2, 0xd5: 3, 0xd6: 5, 0xd7: 9, 0xd8: 17, // fixext 1..16 (type byte + data)
};

/** Variable-size types: [bytes of the length field, what the length counts]. */
const VARIABLE_SIZE: Record<number, [1 | 2 | 4, 'bytes' | 'ext' | 'items' | 'pairs']> = {
  0xc4: [1, 'bytes'], 0xc5: [2, 'bytes'], 0xc6: [4, 'bytes'], // bin
  0xd9: [1, 'bytes'], 0xda: [2, 'bytes'], 0xdb: [4, 'bytes'], // str
  0xc7: [1, 'ext'], 0xc8: [2, 'ext'], 0xc9: [4, 'ext'], // ext: length counts the data after the type byte
  0xdc: [2, 'items'], 0xdd: [4, 'items'], // array
  0xde: [2, 'pairs'], 0xdf: [4, 'pairs'], // map
};

function readLength(buf: Uint8Array, pos: number, bytes: 1 | 2 | 4): number {
  if (bytes === 1) return buf[pos];
  if (bytes === 2) return (buf[pos] << 8) | buf[pos + 1];
  return buf[pos] * 0x1000000 + ((buf[pos + 1] << 16) | (buf[pos + 2] << 8) | buf[pos + 3]);
}

/** Finds the end of the MessagePack value at `start`. Throws on a byte that is never valid (0xc1). */
export function scanValue(buf: Uint8Array, start: number): Scan {
  let pos = start;
  let pending = 1; // values still to skip
  while (pending > 0) {
    if (pos >= buf.length) return { need: pos + 1 };
    const type = buf[pos++];
    pending--;
    if (type <= 0x7f || type >= 0xe0) continue; // fixint
    if (type <= 0x8f) pending += 2 * (type & 0x0f); // fixmap
    else if (type <= 0x9f) pending += type & 0x0f; // fixarray
    else if (type <= 0xbf) pos += type & 0x1f; // fixstr
    else if (type in FIXED_SIZE) pos += FIXED_SIZE[type];
    else {
      const entry = VARIABLE_SIZE[type];
      if (!entry) throw new RangeError(`invalid MessagePack type byte 0x${type.toString(16)}`);
      const [lengthBytes, kind] = entry;
      if (pos + lengthBytes > buf.length) return { need: pos + lengthBytes };
      const length = readLength(buf, pos, lengthBytes);
      pos += lengthBytes;
      if (kind === 'bytes') pos += length;
      else if (kind === 'ext') pos += 1 + length;
      else pending += kind === 'items' ? length : 2 * length;
    }
  }
  return pos <= buf.length ? { end: pos } : { need: pos };
}

export class MessageFramer {
  private chunks: Uint8Array[] = [];
  private buffered = 0;
  private need = 1;
  private readonly decoder = new Decoder();

  /** Adds bytes; returns the whole values now available, in order. Throws on bytes that are not MessagePack. */
  push(chunk: Uint8Array): unknown[] {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    if (this.buffered < this.need) return [];
    let buf = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks, this.buffered);
    const values: unknown[] = [];
    let start = 0;
    for (;;) {
      const scan = scanValue(buf, start);
      if ('need' in scan) {
        this.need = scan.need - start;
        break;
      }
      // A plain Uint8Array view (not a Buffer), so bin values reach plugins as Uint8Array, as from the stock server.
      values.push(this.decoder.decode(new Uint8Array(buf.buffer, buf.byteOffset + start, scan.end - start)));
      start = scan.end;
      this.need = 1;
    }
    buf = buf.subarray(start);
    this.chunks = buf.length > 0 ? [buf] : [];
    this.buffered = buf.length;
    return values;
  }

  /** Bytes held for an incomplete value. */
  get pendingBytes(): number {
    return this.buffered;
  }
}
