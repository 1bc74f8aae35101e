// @msgpack/msgpack's Encoder (the reply encoder's fallback, reply-encoder.ts, and the emulator's), except that a string holding escaped bytes (U+DC80–U+DCFF, how
// the framer decodes bytes of a Kong string that are not UTF-8: plugins/lib/kong-strings.ts) is written as the
// bytes it stands for. A plugin that copies a request header into a response header thus gives Kong the client's
// bytes back; the library would write ED B2 80 (strings under 50 chars) or EF BF BD (longer) for each escape.
import { Encoder } from '@msgpack/msgpack';
import { hasEscapedBytes, kongStringBytes } from '../../plugins/lib/kong-strings';

/** The library's private methods this relies on (pinned by spec/pluginserver/kong-strings.test.ts). */
interface EncoderInternals {
  encodeString(s: string): void;
  writeStringHeader(byteLength: number): void;
  writeU8a(bytes: Uint8Array): void;
}

class KongEncoder extends Encoder {}
const internals = Encoder.prototype as unknown as EncoderInternals;
for (const name of ['encodeString', 'writeStringHeader', 'writeU8a'] as const) {
  if (typeof internals[name] !== 'function') {
    throw new Error(`@msgpack/msgpack's Encoder has no ${name}: kong/pluginserver/kong-encoder.ts needs an update`);
  }
}
const libraryEncodeString = internals.encodeString;
Object.defineProperty(KongEncoder.prototype, 'encodeString', {
  value: function encodeString(this: EncoderInternals, s: string): void {
    if (!hasEscapedBytes(s)) return libraryEncodeString.call(this, s);
    const bytes = kongStringBytes(s);
    this.writeStringHeader(bytes.length);
    this.writeU8a(bytes);
  },
});

export function newKongEncoder(): Encoder {
  return new KongEncoder();
}
