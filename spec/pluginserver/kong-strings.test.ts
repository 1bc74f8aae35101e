// Strings Kong sends that are not UTF-8. Kong 3.9 packs every Lua string as a MessagePack str of its bytes
// (kong/runloop/plugin_servers/mp_rpc.lua: `mp_pack({0, msg_id, method, {...}})`, only raw bodies as bin via
// fix_raw), so a header value is the client's bytes. bulwark-pluginserver hands a plugin each byte of a bad sequence
// as U+DC00 + byte (plugins/lib/kong-strings.ts) and writes such strings back as the bytes; the stock
// kong-js-pluginserver decodes with @msgpack/msgpack's lenient decoder.
import net = require('net');
import { encode } from '@msgpack/msgpack';
import { MessageFramer, newKongDecoder, scanValue } from '../../kong/pluginserver/framer';
import { newKongEncoder } from '../../kong/pluginserver/kong-encoder';
import { ReplyEncoder } from '../../kong/pluginserver/reply-encoder';
import { encodeRequest } from '../../kong/test-tools/rpc-test-client';
import { EventStep, ServerProcess, startBulwark, startInstance, startStock } from './harness';

/** A MessagePack str holding exactly these bytes. */
function rawStr(bytes: Uint8Array): Buffer {
  const n = bytes.length;
  const head = n < 32 ? [0xa0 + n] : n < 256 ? [0xd9, n] : [0xda, n >> 8, n & 0xff];
  return Buffer.concat([Buffer.from(head), bytes]);
}

/** A request whose argument's `Data` is a str of raw bytes: the frame Kong sends for a Step answering get_header. */
function stepWithRawData(msgid: number, eventId: number, data: Uint8Array): Buffer {
  const frame = Buffer.from(encodeRequest(msgid, 'plugin.Step', { EventId: eventId, Data: 'MARK' }));
  const at = frame.indexOf(rawStr(Buffer.from('MARK')));
  return Buffer.concat([frame.subarray(0, at), rawStr(data), frame.subarray(at + 5)]);
}

// 0xe0 then `<script>`, an overlong "/" (c0 af), a lone 0xa0 (libinjection's whitespace), valid "é".
const HEADER = Buffer.concat([
  Buffer.from([0xe0]),
  Buffer.from('<script>'),
  Buffer.from([0xc0, 0xaf, 0xa0]),
  Buffer.from('é'),
]);
const HEADER_AS_SEEN = '\uDCE0<script>\uDCC0\uDCAF\uDCA0é';

describe('the framer decodes str values and map keys without losing or merging bytes', () => {
  test('values short and long, keys short and long, bin stays bytes', () => {
    const longValue = Buffer.concat([HEADER, Buffer.alloc(300, 0x41), Buffer.from([0xa0])]);
    const longKey = Buffer.concat([Buffer.from('x-header-name-longer-than-16-'), Buffer.from([0xff])]);
    // {<short raw key>: <short raw value>, <long raw key>: <long raw value>, "body": bin}
    const frame = Buffer.concat([
      Buffer.from([0x83]),
      rawStr(Buffer.from([0x6b, 0xe0])),
      rawStr(HEADER),
      rawStr(longKey),
      rawStr(longValue),
      Buffer.from(encode('body')),
      Buffer.from([0xc4, 2, 1, 2]),
    ]);
    expect(scanValue(frame, 0)).toEqual({ end: frame.length });
    const [decoded] = new MessageFramer().push(frame) as [Record<string, unknown>];
    expect(decoded).toEqual({
      'k\uDCE0': HEADER_AS_SEEN,
      'x-header-name-longer-than-16-\uDCFF': `${HEADER_AS_SEEN}${'A'.repeat(300)}\uDCA0`,
      body: Uint8Array.from([1, 2]),
    });
  });

  test("pin: @msgpack/msgpack's Decoder still routes str values through the wrapped method", () => {
    // If an upgrade renames Decoder#decodeString, `rawStrings` would hand plugins Uint8Array: this fails first.
    expect(newKongDecoder().decode(rawStr(Buffer.from([0xe0, 0x3c])))).toBe('\uDCE0<');
    expect(newKongDecoder().decode(Buffer.from(encode(['ascii', 'é'])))).toEqual(['ascii', 'é']);
  });

  test('the reply encoder writes escaped bytes back as the bytes (short and long strings, keys, its fallback too)', () => {
    const long = `${HEADER_AS_SEEN}${'B'.repeat(80)}`;
    const longBytes = Buffer.concat([HEADER, Buffer.alloc(80, 0x42)]);
    const emoji = String.fromCodePoint(0x10080); // D800 DC80: a pair, not an escape
    const value = { [HEADER_AS_SEEN]: [HEADER_AS_SEEN, long, 'plain', 'é', emoji] };
    const expected = Buffer.concat([
      Buffer.from([0x81]),
      rawStr(HEADER),
      Buffer.from([0x95]),
      rawStr(HEADER),
      rawStr(longBytes),
      Buffer.from(encode('plain')),
      Buffer.from(encode('é')),
      Buffer.from(encode(emoji)),
    ]);
    // [1, 7, nil, value]
    const envelope = (body: Buffer) => Buffer.concat([Buffer.from([0x94, 0x01, 0x07, 0xc0]), body]);
    expect(new ReplyEncoder().encodeReply(7, null, value)).toEqual(envelope(expected));
    // A Date sends the whole reply through the library's Encoder (wrapped: pin of its encodeString).
    const withDate = new ReplyEncoder().encodeReply(7, null, [value, new Date(0)]);
    expect(withDate.subarray(0, 5)).toEqual(Buffer.from([0x94, 0x01, 0x07, 0xc0, 0x92]));
    expect(withDate.subarray(5, 5 + expected.length)).toEqual(expected);
    expect(Buffer.from(newKongEncoder().encode(value))).toEqual(expected);
  });
});

/** Sends one request on a raw connection and returns the reply's bytes. */
function rawRequest(socketPath: string, request: Uint8Array): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(socketPath);
    let received = Buffer.alloc(0);
    socket.on('error', reject);
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      const scan = scanValue(received, 0);
      if ('end' in scan) {
        socket.destroy();
        resolve(received.subarray(0, scan.end));
      }
    });
    socket.write(request);
  });
}

/**
 * The echo fixture reads `x-echo` and sets `x-echoed: hi:<what it read>`: Kong's Step answering the read carries the
 * raw header, and the server's reply carries the set_header call, i.e. what the plugin saw, as bytes.
 */
async function echoRoundTrip(server: ServerProcess, sock: string): Promise<Buffer> {
  const client = await server.connect(sock);
  try {
    const id = await startInstance(client, 'echo', { greeting: 'hi' });
    const first = (await client.call('plugin.HandleEvent', { InstanceId: id, EventName: 'access' })) as EventStep;
    expect(first.Data).toEqual({ Method: 'kong.request.get_header', Args: ['x-echo'] });
    return await rawRequest(server.socket(sock), stepWithRawData(99, first.EventId, HEADER));
  } finally {
    client.close();
  }
}

/** The header value in the set_header call of a reply. */
function echoedValue(reply: Buffer): Buffer {
  const marker = Buffer.from('x-echoed');
  const at = reply.indexOf(marker) + marker.length;
  const head = reply[at]!;
  if (head >= 0xa0 && head <= 0xbf) return reply.subarray(at + 1, at + 1 + (head - 0xa0));
  if (head === 0xd9) return reply.subarray(at + 2, at + 2 + reply[at + 1]!);
  throw new Error(`unexpected str header 0x${head.toString(16)}`);
}

describe('a header of bytes that are not UTF-8, through the echo plugin', () => {
  test('bulwark-pluginserver: the plugin sees every byte and Kong gets the same bytes back', async () => {
    const server = await startBulwark();
    try {
      const reply = await echoRoundTrip(server, 'echo.sock');
      expect(echoedValue(reply)).toEqual(Buffer.concat([Buffer.from('hi:'), HEADER]));
    } finally {
      await server.kill();
    }
  }, 30_000);

  test('stock kong-js-pluginserver: 0xe0 swallows "<s", the overlong c0 af becomes "/" (lenient decoding)', async () => {
    const server = await startStock();
    try {
      const reply = await echoRoundTrip(server, 'stock.sock');
      // 0xe0 '<' 's' → U+0F33 (༳), c0 af → '/', a0 + the first byte of é... as @msgpack/msgpack's decoder reads it.
      expect(echoedValue(reply).toString('utf8')).toMatch(/^hi:\u0f33cript>\//);
    } finally {
      await server.kill();
    }
  }, 30_000);
});
