// ModSecurity's transformation functions over byte strings (one char per byte, 0x00-0xFF, as ModSecurity sees
// request data): urlDecodeUni turns `%A0` into the byte 0xA0 and leaves invalid escapes alone, so evasions
// that a strict UTF-8 decoder would reject or fold stay visible to the rules. Written from ModSecurity's
// documented behaviour (Reference Manual, "Transformation functions") and checked against the CRS tests' payloads.
import { createHash } from 'node:crypto';

export type Transform = (s: string) => string;

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const l = c | 0x20;
  if (l >= 0x61 && l <= 0x66) return l - 0x57;
  return -1;
}

function isHex(c: number): boolean {
  return hexValue(c) >= 0;
}

const fromCode = String.fromCharCode;

/** A %uHHHH / \uHHHH code unit as ModSecurity maps it without a unicode map: full-width ASCII → ASCII, else the low byte. */
function unicodeToByte(code: number): number {
  if ((code & 0xff00) === 0xff00 && (code & 0xff) >= 0x01 && (code & 0xff) <= 0x5e) return (code & 0xff) + 0x20;
  return code & 0xff;
}

// The decoders below append the unchanged runs between escapes as slices, not char by char: a string built by `+=`
// per char is a rope of one-char pieces that the next reader (charBits, a comparison, an automaton) must flatten.

export function lowercase(s: string): string {
  let upper = false;
  let ascii = true;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x41 && c <= 0x5a) upper = true;
    else if (c >= 0x80) ascii = false;
  }
  if (!upper) return s;
  // On ASCII, String#toLowerCase changes A-Z only (ModSecurity's C-locale tolower), in one native pass.
  if (ascii) return s.toLowerCase();
  let out = '';
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x41 && c <= 0x5a) {
      out += s.slice(start, i) + fromCode(c + 0x20);
      start = i + 1;
    }
  }
  return out + s.slice(start);
}

function urlDecodeImpl(s: string, uni: boolean): string {
  if (s.indexOf('%') === -1 && s.indexOf('+') === -1) return s;
  let out = '';
  let start = 0; // s[start, i) is copied unchanged
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x2b) {
      out += s.slice(start, i) + ' ';
      start = i + 1;
    } else if (c === 0x25) {
      if (i + 2 < s.length && isHex(s.charCodeAt(i + 1)) && isHex(s.charCodeAt(i + 2))) {
        out += s.slice(start, i) + fromCode((hexValue(s.charCodeAt(i + 1)) << 4) | hexValue(s.charCodeAt(i + 2)));
        i += 2;
        start = i + 1;
      } else if (
        uni &&
        (s[i + 1] === 'u' || s[i + 1] === 'U') &&
        i + 5 < s.length &&
        isHex(s.charCodeAt(i + 2)) &&
        isHex(s.charCodeAt(i + 3)) &&
        isHex(s.charCodeAt(i + 4)) &&
        isHex(s.charCodeAt(i + 5))
      ) {
        out += s.slice(start, i) + fromCode(unicodeToByte(parseInt(s.slice(i + 2, i + 6), 16)));
        i += 5;
        start = i + 1;
      } // else the `%` stays
    }
  }
  return out + s.slice(start);
}

export const urlDecode: Transform = (s) => urlDecodeImpl(s, false);
export const urlDecodeUni: Transform = (s) => urlDecodeImpl(s, true);

const NAMED_ENTITIES: Record<string, number> = { quot: 0x22, amp: 0x26, lt: 0x3c, gt: 0x3e, nbsp: 0xa0 };

/** &#DDD; &#xHH; and the five named entities ModSecurity knows; the `;` is optional, values keep their low byte. */
export function htmlEntityDecode(s: string): string {
  let i = s.indexOf('&');
  if (i === -1) return s;
  let out = '';
  let start = 0; // s[start, i) is copied unchanged
  for (; i !== -1; i = s.indexOf('&', i)) {
    let j = i + 1;
    if (s[j] === '#') {
      j++;
      const hex = s[j] === 'x' || s[j] === 'X';
      if (hex) j++;
      const digitsStart = j;
      while (j < s.length && (hex ? isHex(s.charCodeAt(j)) : s.charCodeAt(j) >= 0x30 && s.charCodeAt(j) <= 0x39)) j++;
      if (j > digitsStart) {
        const digits = s.slice(digitsStart, Math.min(j, digitsStart + 10));
        out += s.slice(start, i) + fromCode(parseInt(digits, hex ? 16 : 10) & 0xff);
        i = start = s[j] === ';' ? j + 1 : j;
        continue;
      }
    } else {
      while (j < s.length && j - i <= 5 && isAsciiLetter(s.charCodeAt(j))) j++;
      const code = NAMED_ENTITIES[s.slice(i + 1, j).toLowerCase()];
      if (code !== undefined) {
        out += s.slice(start, i) + fromCode(code);
        i = start = s[j] === ';' ? j + 1 : j;
        continue;
      }
    }
    i++; // the `&` stays
  }
  return start === 0 ? s : out + s.slice(start);
}

function isAsciiLetter(c: number): boolean {
  const l = c | 0x20;
  return l >= 0x61 && l <= 0x7a;
}

const C_ESCAPES: Record<string, number> = { a: 7, b: 8, f: 12, n: 10, r: 13, t: 9, v: 11 };

/** `\xHH` (or `\XHH`) at `i`: the one escape jsDecode and escapeSeqDecode read alike (their octal escapes differ
 * past 0xFF, and so does what an incomplete escape leaves). */
function isHexEscape(s: string, i: number): boolean {
  const n = s[i + 1];
  return (n === 'x' || n === 'X') && i + 3 < s.length && isHex(s.charCodeAt(i + 2)) && isHex(s.charCodeAt(i + 3));
}

/** JavaScript escapes: \uHHHH, \xHH, \OOO, \n and friends; `\x` before anything else is that character. */
export function jsDecode(s: string): string {
  if (s.indexOf('\\') === -1) return s;
  let out = '';
  for (let i = 0; i < s.length; i++) {
    if (s[i] !== '\\' || i + 1 >= s.length) {
      out += s[i];
      continue;
    }
    const n = s[i + 1]!;
    if ((n === 'u' || n === 'U') && i + 5 < s.length && [2, 3, 4, 5].every((k) => isHex(s.charCodeAt(i + k)))) {
      out += fromCode(unicodeToByte(parseInt(s.slice(i + 2, i + 6), 16)));
      i += 5;
    } else if (isHexEscape(s, i)) {
      out += fromCode(parseInt(s.slice(i + 2, i + 4), 16));
      i += 3;
    } else if (n >= '0' && n <= '7') {
      let j = i + 1;
      while (j < s.length && j < i + 4 && s[j]! >= '0' && s[j]! <= '7') j++;
      let value = parseInt(s.slice(i + 1, j), 8);
      if (value > 0xff) {
        j--;
        value = parseInt(s.slice(i + 1, j), 8);
      }
      out += fromCode(value);
      i = j - 1;
    } else {
      const esc = C_ESCAPES[n];
      out += esc !== undefined ? fromCode(esc) : n;
      i += 1;
    }
  }
  return out;
}

/** ANSI C escapes (\n, \xHH, \OOO, \\, \", \', \?); an unknown escape loses its backslash (`\q` → `q`), as in
 * ModSecurity 2 and 3 ("copy raw bytes"); a backslash at the end stays. */
export function escapeSeqDecode(s: string): string {
  if (s.indexOf('\\') === -1) return s;
  let out = '';
  for (let i = 0; i < s.length; i++) {
    if (s[i] !== '\\' || i + 1 >= s.length) {
      out += s[i];
      continue;
    }
    const n = s[i + 1]!;
    const esc = C_ESCAPES[n];
    if (esc !== undefined) {
      out += fromCode(esc);
      i++;
    } else if (n === '\\' || n === '?' || n === "'" || n === '"') {
      out += n;
      i++;
    } else if (isHexEscape(s, i)) {
      out += fromCode(parseInt(s.slice(i + 2, i + 4), 16));
      i += 3;
    } else if (n >= '0' && n <= '7') {
      let j = i + 1;
      while (j < s.length && j < i + 4 && s[j]! >= '0' && s[j]! <= '7') j++;
      out += fromCode(parseInt(s.slice(i + 1, j), 8) & 0xff);
      i = j - 1;
    } else {
      out += n;
      i++;
    }
  }
  return out;
}

/** CSS escapes: backslash + 1-6 hex digits (one following whitespace eaten), backslash-newline removed. */
export function cssDecode(s: string): string {
  if (s.indexOf('\\') === -1) return s;
  let out = '';
  for (let i = 0; i < s.length; i++) {
    if (s[i] !== '\\') {
      out += s[i];
      continue;
    }
    if (i + 1 >= s.length) break; // a trailing backslash is dropped
    let j = i + 1;
    while (j < s.length && j < i + 7 && isHex(s.charCodeAt(j))) j++;
    if (j > i + 1) {
      const code = parseInt(s.slice(i + 1, j), 16);
      out += fromCode(j - i - 1 >= 4 ? unicodeToByte(code) : code & 0xff);
      if (j < s.length && (s[j] === ' ' || s[j] === '\t' || s[j] === '\n' || s[j] === '\r' || s[j] === '\f')) j++;
      i = j - 1;
    } else if (s[i + 1] === '\n') i++;
    else {
      out += s[i + 1];
      i++;
    }
  }
  return out;
}

export function removeNulls(s: string): string {
  return s.indexOf('\0') === -1 ? s : s.split('\0').join('');
}

export function replaceNulls(s: string): string {
  return s.indexOf('\0') === -1 ? s : s.split('\0').join(' ');
}

/** UTF-8 sequences (2-4 bytes, well-formed) become %uHHHH so that rules written for %u-escapes see them. */
export function utf8toUnicode(s: string): string {
  let i = 0;
  for (; i < s.length; i++) if (s.charCodeAt(i) >= 0x80) break;
  if (i === s.length) return s;
  let out = s.slice(0, i);
  for (; i < s.length; i++) {
    const c = s.charCodeAt(i);
    let len = 0;
    let cp = 0;
    if (c >= 0xc2 && c <= 0xdf) {
      len = 2;
      cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
      len = 3;
      cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      len = 4;
      cp = c & 0x07;
    }
    let ok = len > 0 && i + len <= s.length;
    for (let k = 1; ok && k < len; k++) {
      const b = s.charCodeAt(i + k);
      if ((b & 0xc0) !== 0x80) ok = false;
      else cp = (cp << 6) | (b & 0x3f);
    }
    if (!ok) {
      out += s[i];
      continue;
    }
    out += '%u' + cp.toString(16).padStart(4, '0'); // a code point above U+FFFF: 5 or 6 digits, as ModSecurity writes it
    i += len - 1;
  }
  return out;
}

function isSpace(c: number): boolean {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d) || c === 0xa0;
}

/** Whether any char of `s` satisfies `pred` (the transformations return their input untouched otherwise). */
function some(s: string, pred: (c: number, i: number) => boolean): boolean {
  for (let i = 0; i < s.length; i++) if (pred(s.charCodeAt(i), i)) return true;
  return false;
}

export function compressWhitespace(s: string): string {
  if (!some(s, (c, i) => isSpace(c) && (c !== 0x20 || isSpace(s.charCodeAt(i + 1))))) return s;
  let out = '';
  let inSpace = false;
  for (let i = 0; i < s.length; i++) {
    if (isSpace(s.charCodeAt(i))) {
      if (!inSpace) out += ' ';
      inSpace = true;
    } else {
      out += s[i];
      inSpace = false;
    }
  }
  return out;
}

export function removeWhitespace(s: string): string {
  let out = '';
  let start = 0; // s[start, i) is copied unchanged
  for (let i = 0; i < s.length; i++) {
    if (isSpace(s.charCodeAt(i))) {
      out += s.slice(start, i);
      start = i + 1;
    }
  }
  return start === 0 ? s : out + s.slice(start);
}

/** Each C-style comment (an unterminated one runs to the end) becomes one space. */
export function replaceComments(s: string): string {
  if (s.indexOf('/*') === -1) return s;
  let out = '';
  let i = 0;
  while (i < s.length) {
    if (s[i] === '/' && s[i + 1] === '*') {
      const end = s.indexOf('*/', i + 2);
      out += ' ';
      if (end === -1) return out;
      i = end + 2;
    } else out += s[i++];
  }
  return out;
}

/** Removes the comment markers `/*`, `*\/`, `<!--`, `-->`, `--` and `#` (ModSecurity's list). */
export function removeCommentsChar(s: string): string {
  if (s.indexOf('#') === -1 && s.indexOf('--') === -1 && s.indexOf('/*') === -1 && s.indexOf('*/') === -1) return s;
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    const n = s[i + 1];
    if (c === '<' && n === '!' && s[i + 2] === '-' && s[i + 3] === '-') i += 3;
    else if (c === '-' && n === '-' && s[i + 2] === '>') i += 2;
    else if ((c === '/' && n === '*') || (c === '*' && n === '/') || (c === '-' && n === '-')) i++;
    else if (c !== '#') out += c;
  }
  return out;
}

/** The Windows command-line normalisation CRS's RCE rules expect: quotes, `\` and `^` gone, `,;` and runs of
 * whitespace one space, no space before `/` or `(`, lower case. */
export function cmdLine(s: string): string {
  let out = '';
  let start = 0; // s[start, i) is copied unchanged
  let space = false; // the last char written is the space of a whitespace run
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x22 || c === 0x27 || c === 0x5c || c === 0x5e) {
      out += s.slice(start, i);
      start = i + 1;
    } else if (c === 0x20 || c === 0x2c || c === 0x3b || c === 0x09 || c === 0x0a || c === 0x0d) {
      if (space) {
        out += s.slice(start, i);
        start = i + 1;
      } else if (c !== 0x20) {
        out += s.slice(start, i) + ' ';
        start = i + 1;
      } // else the space stays
      space = true;
    } else {
      if ((c === 0x2f || c === 0x28) && space) {
        // Drop the run's space: the last char of s[start, i) when that is not empty (whatever followed the space
        // was dropped, and each drop moves start), else the last char written.
        if (start < i) out += s.slice(start, i - 1);
        else out = out.slice(0, -1);
        start = i;
      }
      if (c >= 0x41 && c <= 0x5a) {
        out += s.slice(start, i) + fromCode(c + 0x20);
        start = i + 1;
      }
      space = false;
    }
  }
  return start === 0 ? s : out + s.slice(start);
}

/** Removes `.` segments and resolves `..` against earlier segments (leading `..` stay); collapses `//`. */
export function normalizePath(s: string): string {
  if (s.indexOf('/') === -1 && s !== '.' && s !== '..') return s;
  if (s.indexOf('//') === -1 && s.indexOf('/.') === -1 && !s.startsWith('./') && !s.startsWith('../')) return s;
  const absolute = s.startsWith('/');
  const trailing = s.endsWith('/') || s.endsWith('/.') || s.endsWith('/..');
  const out: string[] = [];
  for (const seg of s.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') {
      if (out.length > 0 && out[out.length - 1] !== '..') out.pop();
      else if (!absolute) out.push('..');
      continue;
    }
    out.push(seg);
  }
  let result = (absolute ? '/' : '') + out.join('/');
  if (trailing && out.length > 0) result += '/';
  return result;
}

export function normalizePathWin(s: string): string {
  return normalizePath(s.indexOf('\\') === -1 ? s : s.split('\\').join('/'));
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
/** Per char code below 0x80, its value in B64; -1 outside the alphabet. */
const B64_VALUES = Int8Array.from({ length: 0x80 }, (_, c) => B64.indexOf(String.fromCharCode(c)));
/** Scratch for base64Decode's output bytes, turned into a string in pieces of at most B64_PIECE chars. */
const B64_PIECE = 4096;
const b64Bytes = new Uint8Array(B64_PIECE);

/** Base64 (standard alphabet); decoding stops at the first character outside it. */
export function base64Decode(s: string): string {
  let bits = 0;
  let n = 0;
  let out = '';
  let k = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const v = c < 0x80 ? B64_VALUES[c]! : -1;
    if (v < 0) break;
    bits = ((bits << 6) | v) & 0xffffff;
    n += 6;
    if (n >= 8) {
      n -= 8;
      b64Bytes[k++] = bits >> n;
      if (k === B64_PIECE) {
        // apply, not a spread: a spread iterates the typed array (~5× slower here).
        // eslint-disable-next-line prefer-spread
        out += fromCode.apply(null, b64Bytes as unknown as number[]);
        k = 0;
      }
    }
  }
  // eslint-disable-next-line prefer-spread
  return k === 0 ? out : out + fromCode.apply(null, b64Bytes.subarray(0, k) as unknown as number[]);
}

export function hexEncode(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) out += s.charCodeAt(i).toString(16).padStart(2, '0');
  return out;
}

export function sha1(s: string): string {
  return createHash('sha1').update(Buffer.from(s, 'latin1')).digest().toString('latin1');
}

export function length(s: string): string {
  return String(s.length);
}

export function trim(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && isSpace(s.charCodeAt(a))) a++;
  while (b > a && isSpace(s.charCodeAt(b - 1))) b--;
  return s.slice(a, b);
}

/** Transformations by lower-cased name (ModSecurity accepts either spelling of normalise/normalize). */
export const TRANSFORMS: ReadonlyMap<string, Transform> = new Map<string, Transform>([
  ['lowercase', lowercase],
  ['urldecode', urlDecode],
  ['urldecodeuni', urlDecodeUni],
  ['htmlentitydecode', htmlEntityDecode],
  ['jsdecode', jsDecode],
  ['cssdecode', cssDecode],
  ['escapeseqdecode', escapeSeqDecode],
  ['removenulls', removeNulls],
  ['replacenulls', replaceNulls],
  ['utf8tounicode', utf8toUnicode],
  ['compresswhitespace', compressWhitespace],
  ['removewhitespace', removeWhitespace],
  ['replacecomments', replaceComments],
  ['removecommentschar', removeCommentsChar],
  ['cmdline', cmdLine],
  ['normalizepath', normalizePath],
  ['normalisepath', normalizePath],
  ['normalizepathwin', normalizePathWin],
  ['normalisepathwin', normalizePathWin],
  ['base64decode', base64Decode],
  ['hexencode', hexEncode],
  ['sha1', sha1],
  ['length', length],
  ['trim', trim],
]);

/**
 * Which characters a string holds, as bits (one scan): a transformation whose trigger characters (TRIGGERS) are all
 * absent returns its input unchanged, so the engine skips it without running it (each transformation would scan
 * the string again to find that out).
 */
export const CHAR_PERCENT = 1 << 0;
export const CHAR_PLUS = 1 << 1;
export const CHAR_AMPERSAND = 1 << 2;
export const CHAR_BACKSLASH = 1 << 3;
export const CHAR_NUL = 1 << 4;
/** 0x80 and above (a char above 0xFF included). */
export const CHAR_HIGH = 1 << 5;
export const CHAR_UPPER = 1 << 6;
/** isSpace: 0x09-0x0D, space, 0xA0. */
export const CHAR_SPACE = 1 << 7;
export const CHAR_SLASH = 1 << 8;
export const CHAR_STAR = 1 << 9;
export const CHAR_HASH = 1 << 10;
export const CHAR_DASH = 1 << 11;
/** cmdLine's other changed characters: `"`, `'`, `^`, `,`, `;`. */
export const CHAR_CMDLINE = 1 << 12;
/** Bits above the character bits, free for callers' own classes (engine.ts: value classes). */
export const CHAR_FIRST_FREE_BIT = 13;

const CHAR_BITS = new Int32Array(256);
for (let c = 0; c < 256; c++) {
  let bits = 0;
  if (c === 0x25) bits |= CHAR_PERCENT;
  if (c === 0x2b) bits |= CHAR_PLUS;
  if (c === 0x26) bits |= CHAR_AMPERSAND;
  if (c === 0x5c) bits |= CHAR_BACKSLASH;
  if (c === 0) bits |= CHAR_NUL;
  if (c >= 0x80) bits |= CHAR_HIGH;
  if (c >= 0x41 && c <= 0x5a) bits |= CHAR_UPPER;
  if (isSpace(c)) bits |= CHAR_SPACE;
  if (c === 0x2f) bits |= CHAR_SLASH;
  if (c === 0x2a) bits |= CHAR_STAR;
  if (c === 0x23) bits |= CHAR_HASH;
  if (c === 0x2d) bits |= CHAR_DASH;
  if (c === 0x22 || c === 0x27 || c === 0x5e || c === 0x2c || c === 0x3b) bits |= CHAR_CMDLINE;
  CHAR_BITS[c] = bits;
}

/** The CHAR_* bits of the bytes of `s`, or'ed with `extra[c]` per byte (a char above 0xFF: `aboveByte`). */
export function charBits(s: string, extra?: Int32Array, aboveByte = 0): number {
  let bits = 0;
  if (extra === undefined) {
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      bits |= c > 0xff ? CHAR_HIGH : CHAR_BITS[c]!;
    }
    return bits;
  }
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    bits |= c > 0xff ? CHAR_HIGH | aboveByte : CHAR_BITS[c]! | extra[c]!;
  }
  return bits;
}

/** Transformations whose output's CHAR_* bits follow from their input's (no scan of the output): [bits kept, input
 * bits that add CHAR_SPACE]. A superset of the output's bits would only run a later transformation that then
 * changes nothing; these are exact but for cmdLine, which may claim a space it removed. */
export const RESULT_BITS: ReadonlyMap<string, readonly [number, number]> = new Map<string, readonly [number, number]>([
  ['lowercase', [~CHAR_UPPER, 0]],
  ['removewhitespace', [~CHAR_SPACE, 0]],
  // Quotes, `\` and `^` go, `,` and `;` become spaces (CHAR_CMDLINE), A-Z become a-z.
  ['cmdline', [~(CHAR_UPPER | CHAR_CMDLINE | CHAR_BACKSLASH), CHAR_CMDLINE]],
]);

/** Transformations that can change a string only when it holds one of these chars (else they return the input). */
export const TRIGGERS: ReadonlyMap<string, number> = new Map<string, number>([
  ['lowercase', CHAR_UPPER],
  ['urldecode', CHAR_PERCENT | CHAR_PLUS],
  ['urldecodeuni', CHAR_PERCENT | CHAR_PLUS],
  ['htmlentitydecode', CHAR_AMPERSAND],
  ['jsdecode', CHAR_BACKSLASH],
  ['cssdecode', CHAR_BACKSLASH],
  ['escapeseqdecode', CHAR_BACKSLASH],
  ['removenulls', CHAR_NUL],
  ['replacenulls', CHAR_NUL],
  ['utf8tounicode', CHAR_HIGH],
  ['compresswhitespace', CHAR_SPACE],
  ['removewhitespace', CHAR_SPACE],
  ['replacecomments', CHAR_SLASH],
  ['removecommentschar', CHAR_HASH | CHAR_DASH | CHAR_SLASH | CHAR_STAR],
  ['cmdline', CHAR_CMDLINE | CHAR_BACKSLASH | CHAR_SPACE | CHAR_UPPER],
  ['normalizepath', CHAR_SLASH],
  ['normalisepath', CHAR_SLASH],
  ['normalizepathwin', CHAR_SLASH | CHAR_BACKSLASH],
  ['normalisepathwin', CHAR_SLASH | CHAR_BACKSLASH],
  ['trim', CHAR_SPACE],
]);
