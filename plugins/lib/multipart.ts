// multipart/form-data (RFC 7578, framing from RFC 2046 §5.1.1) parsed from a raw body already read in full,
// with limits on the number of parts and the size of each part's header block. Parts keep their bytes; the
// caller decides how to read each one (text, JSON, file).

export interface MultipartPart {
  /** The `name` parameter of Content-Disposition: form-data. */
  name: string;
  /** The `filename` parameter when present (a file upload). */
  filename: string | undefined;
  /** The part's Content-Type header (lower-case essence and parameters as sent), or undefined. */
  contentType: string | undefined;
  body: Uint8Array;
}

export interface MultipartLimits {
  maxParts: number;
  /** Largest header block of one part, in bytes. */
  maxHeaderBytes: number;
}

export type MultipartResult = { ok: true; parts: MultipartPart[] } | { ok: false; reason: string };

const BOUNDARY = /^[0-9A-Za-z'()+_,\-./:=? ]{1,70}$/;
const CRLF = Buffer.from('\r\n');
const HEADER_END = Buffer.from('\r\n\r\n');

/** RFC 2046 boundary syntax (1–70 characters from bchars, not ending in a space). */
export function isValidBoundary(boundary: string): boolean {
  return BOUNDARY.test(boundary) && !boundary.endsWith(' ');
}

/**
 * The parameters of a `form-data` Content-Disposition, or why they are refused. A parameter given twice
 * (`name="a"; name="b"`) or in RFC 5987's extended form (`name*=utf-8''a`) is refused: parsers disagree on which
 * one wins (busboy, behind multer, keeps the first and decodes `name*`), and RFC 7578 §4.2 forbids the
 * extended form.
 */
function dispositionParams(value: string): Record<string, string> | string {
  const m = /^\s*form-data\s*(;.*)?$/i.exec(value);
  if (m === null) return 'multipart part without a form-data name';
  const params: Record<string, string> = Object.create(null) as Record<string, string>;
  const re = /;\s*([A-Za-z0-9!#$&+\-.^_`|~*]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;\s]*)\s*/gy;
  const rest = m[1] ?? '';
  re.lastIndex = 0;
  while (re.lastIndex < rest.length) {
    const p = re.exec(rest);
    if (p === null) return 'malformed multipart Content-Disposition';
    const key = p[1]!.toLowerCase();
    if (key.endsWith('*'))
      return `multipart Content-Disposition parameter ${key} (RFC 5987 form) is not allowed in form-data`;
    if (key in params) return `multipart Content-Disposition gives ${key} more than once`;
    let v = p[2]!;
    if (v.startsWith('"')) v = v.slice(1, -1).replace(/\\(.)/g, '$1');
    params[key] = v;
  }
  return params;
}

export function parseMultipart(body: Uint8Array, boundary: string, limits: MultipartLimits): MultipartResult {
  if (!isValidBoundary(boundary)) return { ok: false, reason: 'invalid multipart boundary' };
  const buf = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  const delimiter = Buffer.from(`--${boundary}`);
  const parts: MultipartPart[] = [];
  // The first delimiter may follow a preamble; it starts the body or a line.
  let at = buf.indexOf(delimiter);
  if (at === -1 || (at > 0 && (at < 2 || buf[at - 2] !== 0x0d || buf[at - 1] !== 0x0a))) {
    return { ok: false, reason: 'multipart body does not start with the boundary' };
  }
  const next = Buffer.concat([CRLF, delimiter]);
  for (;;) {
    at += delimiter.length;
    if (buf[at] === 0x2d && buf[at + 1] === 0x2d) return { ok: true, parts }; // close delimiter; epilogue ignored
    // Transport padding (spaces/tabs) then CRLF.
    while (buf[at] === 0x20 || buf[at] === 0x09) at++;
    if (buf[at] !== 0x0d || buf[at + 1] !== 0x0a) return { ok: false, reason: 'malformed multipart delimiter line' };
    at += 2;
    if (parts.length >= limits.maxParts) return { ok: false, reason: `more than ${limits.maxParts} multipart parts` };
    const headerEnd = buf[at] === 0x0d && buf[at + 1] === 0x0a ? at : buf.indexOf(HEADER_END, at);
    if (headerEnd === -1) return { ok: false, reason: 'unterminated multipart part headers' };
    if (headerEnd - at > limits.maxHeaderBytes) return { ok: false, reason: 'multipart part headers too large' };
    const headerText = buf.toString('latin1', at, headerEnd);
    const contentStart = headerEnd === at ? at + 2 : headerEnd + 4;
    const end = buf.indexOf(next, contentStart);
    if (end === -1) return { ok: false, reason: 'multipart body is truncated (no closing boundary)' };
    let name: string | undefined;
    let filename: string | undefined;
    let contentType: string | undefined;
    for (const line of headerText === '' ? [] : headerText.split('\r\n')) {
      const colon = line.indexOf(':');
      if (colon <= 0) return { ok: false, reason: 'malformed multipart part header' };
      const field = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      if (field === 'content-disposition') {
        // Two Content-Disposition headers: which one names the part depends on the parser (busboy: the first).
        if (name !== undefined) return { ok: false, reason: 'multipart part with more than one Content-Disposition' };
        const params = dispositionParams(value);
        if (typeof params === 'string') return { ok: false, reason: params };
        if (params.name === undefined) return { ok: false, reason: 'multipart part without a form-data name' };
        // Field names are UTF-8 in practice (RFC 7578 §5.1.3); the header block was read as latin1.
        name = Buffer.from(params.name, 'latin1').toString('utf8');
        filename = params.filename;
      } else if (field === 'content-type') {
        if (contentType !== undefined) return { ok: false, reason: 'multipart part with more than one Content-Type' };
        contentType = value;
      }
    }
    if (name === undefined) return { ok: false, reason: 'multipart part without Content-Disposition' };
    parts.push({ name, filename, contentType, body: body.subarray(contentStart, end) });
    at = end + 2;
  }
}
