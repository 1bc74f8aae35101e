// SQL injection detection by tokenization, libinjection's method (Nick Galbreath's libinjection, BSD-3-Clause;
// its published data in ./sqli-data.ts, licence in ./COPYING): the input is tokenized as SQL would be, tokens
// are folded (constant expressions, unary operators, merged keywords such as "UNION ALL"), the types of the first
// five tokens form a fingerprint, and a fingerprint listed in the data is SQL injection unless one of a few rules
// says it is ordinary text. Each input is read as it would be after an opening quote of no kind, ' or " (and
// again with MySQL comment rules when the text uses them), as libinjection does.
//
// Work is linear in the input: every token consumes the bytes it scanned, the folding holds at most six tokens,
// and is_sqli parses at most five times. Input is a byte string (one char per byte, as the engine's values are).
//
// Speed (this runs on every value of every request, several times per value for 942100's transformation steps):
// nothing is allocated per token or per value on the common path. A token is a range of the input (or of a
// literal), not a sliced string; types are char codes compared as integers, type sets are bit masks; keywords and
// fingerprints are found by hashing the range upper-cased in place, not by `toUpperCase()` + Map. Where the old
// string code had a Unicode corner (a char >= 0x80: `toUpperCase` maps 'ß' to "SS", 'ſ' to 'S'), the slow exact
// expression still runs, so verdicts are those of the string implementation (scripts/bench/libinjection-reference,
// checked by spec/plugins/bulwark-threat-protection/libinjection-equivalence.test.ts).
import { CHAR_CLASS_NAMES, CHAR_CLASSES, FINGERPRINTS, KEYWORDS } from './sqli-data';

const code = (ch: string): number => ch.charCodeAt(0);

// Token types: the char codes of libinjection's one-letter codes, which the fingerprints are made of (0: none).
const T = {
  none: 0,
  keyword: code('k'),
  union: code('U'),
  group: code('B'),
  expression: code('E'),
  sqlType: code('t'),
  func: code('f'),
  bareword: code('n'),
  number: code('1'),
  variable: code('v'),
  string: code('s'),
  operator: code('o'),
  logicOperator: code('&'),
  comment: code('c'),
  collate: code('A'),
  leftParens: code('('),
  rightParens: code(')'),
  leftBrace: code('{'),
  rightBrace: code('}'),
  dot: code('.'),
  comma: code(','),
  colon: code(':'),
  semicolon: code(';'),
  tsql: code('T'),
  unknown: code('?'),
  evil: code('X'),
  backslash: code('\\'),
} as const;

const FLAG_QUOTE_NONE = 1;
const FLAG_QUOTE_SINGLE = 2;
const FLAG_QUOTE_DOUBLE = 4;
const FLAG_SQL_ANSI = 8;
const FLAG_SQL_MYSQL = 16;

const MAX_TOKENS = 5;
/** Token text is kept up to 31 bytes, as libinjection's fixed token buffer. */
const TOKEN_SIZE = 32;

/** ASCII upper case of a char code; other codes as they are (callers send chars >= 0x80 to the exact path). */
const upper = (c: number): number => (c >= 97 && c <= 122 ? c - 32 : c);

// FNV-1a, kept in int32 (0x811c9dc5 as a JS number is above int32 and would make the hash a double).
const FNV_OFFSET = 0x811c9dc5 | 0;
/** One FNV-1a step over an ASCII char, upper-cased (the tables are case-insensitive). */
const hashStep = (h: number, c: number): number => Math.imul(h ^ upper(c), 16777619);

/**
 * Case-insensitive lookup of a range of a string in a fixed upper-case word list, without slicing: open addressing
 * over an FNV-1a hash of the ASCII-upper-cased chars. A range with a char >= 0x80 is looked up the way the string
 * code did (`slice().toUpperCase()` in a Map), since `toUpperCase` maps some such chars to ASCII.
 */
class WordTable<V> {
  private readonly words: string[] = [];
  private readonly values: V[] = [];
  private readonly slots: Int32Array;
  private readonly mask: number;
  private readonly exact = new Map<string, V>();
  readonly maxLength: number;

  constructor(
    entries: Iterable<readonly [string, V]>,
    private readonly missing: V,
  ) {
    const list = [...entries];
    let size = 1;
    while (size < list.length * 4) size *= 2;
    this.slots = new Int32Array(size).fill(-1);
    this.mask = size - 1;
    let maxLength = 0;
    for (const [word, value] of list) {
      if (hasHighChar(word, 0, word.length)) throw new Error(`word list: ${word} is not ASCII`);
      if (this.exact.has(word)) throw new Error(`word list: ${word} twice`);
      this.exact.set(word, value);
      maxLength = Math.max(maxLength, word.length);
      let slot = WordTable.hashOf(word, 0, word.length) & this.mask;
      while (this.slots[slot] !== -1) slot = (slot + 1) & this.mask;
      this.slots[slot] = this.words.length;
      this.words.push(word);
      this.values.push(value);
    }
    this.maxLength = maxLength;
  }

  private static hashOf(s: string, start: number, length: number, seed = FNV_OFFSET): number {
    let h = seed;
    for (let i = start; i < start + length; i++) h = hashStep(h, s.charCodeAt(i));
    return h;
  }

  /** The value of the word `s[start, start + length)` upper-cased. */
  get(s: string, start: number, length: number): V {
    if (length === 0) return this.missing;
    let h = FNV_OFFSET;
    for (let i = start; i < start + length; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) return upperKeepsNonAscii(c) ? this.missing : this.getExact(s, start, length);
      h = hashStep(h, c);
    }
    return this.find(h, s, start, length);
  }

  /** `get` when the caller has hashed the range (`hashStep` over its chars from FNV_OFFSET), all chars < 0x80. */
  find(h: number, s: string, start: number, length: number): V {
    if (length > this.maxLength) return this.missing;
    for (let slot = h & this.mask; ; slot = (slot + 1) & this.mask) {
      const index = this.slots[slot]!;
      if (index === -1) return this.missing;
      const word = this.words[index]!;
      if (word.length === length && sameUpper(word, 0, length, s, start)) return this.values[index]!;
    }
  }

  /** The value of `a + ' ' + b` (two ranges joined by a space), as `get` of that string. */
  getPair(a: string, aStart: number, aLength: number, b: string, bStart: number, bLength: number): V {
    const length = aLength + 1 + bLength;
    if (hasHighChar(a, aStart, aLength) || hasHighChar(b, bStart, bLength)) {
      return this.getExact(`${a.slice(aStart, aStart + aLength)} ${b.slice(bStart, bStart + bLength)}`, 0, length);
    }
    if (length > this.maxLength) return this.missing;
    const h = WordTable.hashOf(b, bStart, bLength, Math.imul(WordTable.hashOf(a, aStart, aLength) ^ 32, 16777619));
    for (let slot = h & this.mask; ; slot = (slot + 1) & this.mask) {
      const index = this.slots[slot]!;
      if (index === -1) return this.missing;
      const word = this.words[index]!;
      if (
        word.length === length &&
        word.charCodeAt(aLength) === 32 &&
        sameUpper(word, 0, aLength, a, aStart) &&
        sameUpper(word, aLength + 1, bLength, b, bStart)
      ) {
        return this.values[index]!;
      }
    }
  }

  private getExact(s: string, start: number, length: number): V {
    return this.exact.get(s.slice(start, start + length).toUpperCase()) ?? this.missing;
  }
}

/**
 * Whether `String.fromCharCode(c).toUpperCase()` (c >= 0x80) has a non-ASCII char: then a word holding c cannot
 * equal an ASCII word upper-cased ('é' → 'É'), and only the few chars that upper-case to ASCII ('ß' → "SS",
 * 'ı' → 'I', 'ſ' → 'S', ligatures) need the exact string path. Surrogates always take it. Filled on first sight.
 */
function upperKeepsNonAscii(c: number): boolean {
  let known = UPPER_KEEPS_NON_ASCII[c]!;
  if (known === 0) {
    known = 2;
    if (c < 0xd800 || c > 0xdfff) {
      const u = String.fromCharCode(c).toUpperCase();
      for (let i = 0; i < u.length; i++) if (u.charCodeAt(i) >= 0x80) known = 1;
    }
    UPPER_KEEPS_NON_ASCII[c] = known;
  }
  return known === 1;
}
/** Per UTF-16 code unit: 0 not yet seen, 1 upper case keeps a non-ASCII char, 2 it may not. */
const UPPER_KEEPS_NON_ASCII = new Uint8Array(0x10000);

function hasHighChar(s: string, start: number, length: number): boolean {
  for (let i = start; i < start + length; i++) if (s.charCodeAt(i) >= 0x80) return true;
  return false;
}

/** `word[from, from + length)` (upper case ASCII) equals `s` from `start`, ASCII-case-insensitively. */
function sameUpper(word: string, from: number, length: number, s: string, start: number): boolean {
  for (let i = 0; i < length; i++) if (upper(s.charCodeAt(start + i)) !== word.charCodeAt(from + i)) return false;
  return true;
}

const KEYWORD_LIST = KEYWORDS.split('\n').map((line) => {
  const [word, type] = line.split('\u0001') as [string, string];
  return [word, code(type)] as const;
});
const KEYWORD_TYPES = new WordTable<number>(KEYWORD_LIST, T.none);
/**
 * The parts of multi-word keywords before a space ("AT", "AT TIME" of "AT TIME ZONE"): a token can merge with the
 * next one ("AT" + "TIME") only if its text is one of them, which most tokens are not (a cheap first test).
 */
const MERGE_PREFIXES = new WordTable<boolean>(
  [...new Set(KEYWORD_LIST.flatMap(([word]) => [...word.matchAll(/ /g)].map((m) => word.slice(0, m.index))))].map(
    (prefix) => [prefix, true] as const,
  ),
  false,
);

// Fingerprints are compared upper-cased, as libinjection does (so 't' and 'T' meet). Each of the 5 types is packed
// into 5 bits: the upper-cased type's index in FINGERPRINT_CHARS, + 1.
const FINGERPRINT_CHARS = '&(),1:;ABETUXCFKNOSV';
const FINGERPRINT_CHAR_INDEX = new Int8Array(128).fill(-1);
for (let i = 0; i < FINGERPRINT_CHARS.length; i++) FINGERPRINT_CHAR_INDEX[code(FINGERPRINT_CHARS[i]!)] = i + 1;
const FINGERPRINT_STRINGS = new Set(FINGERPRINTS.split(' ').map((f) => f.toUpperCase()));
const FINGERPRINT_KEYS = new Set<number>();
/** The listed fingerprints of up to 3 types, by key (15 bits): a table read instead of a Set lookup. */
const SHORT_FINGERPRINTS = new Uint8Array(1 << 15);
for (const f of FINGERPRINT_STRINGS) {
  let key = 0;
  for (let i = 0; i < f.length; i++) {
    const index = FINGERPRINT_CHAR_INDEX[code(f[i]!)]!;
    if (index < 0) throw new Error(`libinjection data: fingerprint ${f} has an unexpected type`);
    key = key * 32 + index;
  }
  FINGERPRINT_KEYS.add(key);
  if (f.length <= 3) SHORT_FINGERPRINTS[key] = 1;
}

export function isSqliFingerprint(fingerprint: string): boolean {
  return fingerprint.length > 0 && FINGERPRINT_STRINGS.has(fingerprint.toUpperCase());
}

/**
 * A token: its type, and its text as a range of `src` (the input, or a literal such as a merged "UNION ALL"), at
 * most TOKEN_SIZE - 1 chars. `val` makes the string, for the rare paths and the tests.
 */
export class Token {
  type = 0;
  pos = 0;
  src = '';
  start = 0;
  len = 0;
  /** Opening and closing delimiter of a string ('' when none). */
  strOpen = '';
  strClose = '';
  /** Number of '@' of a variable. */
  count = 0;

  get val(): string {
    return this.src.slice(this.start, this.start + this.len);
  }

  /** The one-letter type code, as libinjection prints it. */
  get typeChar(): string {
    return this.type === 0 ? '' : String.fromCharCode(this.type);
  }
}

/** Sets `t` to the text `src[start, start + length)` (cut to TOKEN_SIZE - 1), at `pos` of the input. */
function assign(t: Token, type: number, pos: number, src: string, start: number, length: number): void {
  t.type = type;
  t.pos = pos;
  t.src = src;
  t.start = start;
  t.len = length < TOKEN_SIZE ? length : TOKEN_SIZE - 1;
  t.strOpen = '';
  t.strClose = '';
  t.count = 0;
}

/** Sets `t` to a literal text. */
const assignText = (t: Token, type: number, pos: number, text: string): void =>
  assign(t, type, pos, text, 0, text.length);

function copyToken(to: Token, from: Token): void {
  to.type = from.type;
  to.pos = from.pos;
  to.src = from.src;
  to.start = from.start;
  to.len = from.len;
  to.strOpen = from.strOpen;
  to.strClose = from.strClose;
  to.count = from.count;
}

/** The token's text char at `i` (NaN past its end, as `charCodeAt`). */
const charAt = (t: Token, i: number): number => (i < t.len ? t.src.charCodeAt(t.start + i) : NaN);

/** `t.val.toUpperCase() === word`, without the string when the text is ASCII. */
function textIs(t: Token, word: string): boolean {
  if (hasHighChar(t.src, t.start, t.len)) return t.val.toUpperCase() === word;
  return t.len === word.length && sameUpper(word, 0, word.length, t.src, t.start);
}

/** `t.val.includes(char)`. */
function textHas(t: Token, char: number): boolean {
  for (let i = 0; i < t.len; i++) if (t.src.charCodeAt(t.start + i) === char) return true;
  return false;
}

/** A 256-entry membership table of the bytes of `chars`. */
const byteTable = (chars: string): Uint8Array => {
  const table = new Uint8Array(256);
  for (let i = 0; i < chars.length; i++) table[chars.charCodeAt(i)] = 1;
  return table;
};
const WHITE = byteTable(' \t\n\v\f\r\xa0\0');
/** Whitespace by the low byte, as the string code's table lookup (NaN, past the end, is not). */
const isWhiteCode = (c: number): boolean => c === c && WHITE[c & 0xff] === 1;
const isDigitCode = (c: number): boolean => c >= 48 && c <= 57;

/** Length of the run of `s` from `start` whose bytes are all in `accept`. */
function spanOf(s: string, start: number, accept: Uint8Array): number {
  let i = start;
  while (i < s.length && accept[s.charCodeAt(i) & 0xff] === 1) i++;
  return i - start;
}

/** Length of the run of `s` from `start` whose bytes are none of `reject`. */
function spanNotOf(s: string, start: number, reject: Uint8Array): number {
  let i = start;
  while (i < s.length && reject[s.charCodeAt(i) & 0xff] !== 1) i++;
  return i - start;
}

const WORD_STOP = byteTable(' []{}<>:\\?=@!#~+-*/&|^%(),\';\t\n\v\f\r"\xa0\0');
const VARIABLE_STOP = byteTable(' <>:\\?=@!#~+-*/&|^%(),\';\t\n\v\f\r`"\0');
const MONEY_DIGITS = byteTable('0123456789.,');
const LETTERS = byteTable('abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ');
const BINARY_DIGITS = byteTable('01');
const HEX_DIGITS = byteTable('0123456789ABCDEFabcdef');

type Handler = (st: SqliState) => number;

/** One tokenizer run over `s` with the given quote context and dialect (libinjection's sqli state). */
export class SqliState {
  pos = 0;
  readonly tokens: Token[] = Array.from({ length: MAX_TOKENS + 3 }, () => new Token());
  current: Token = this.tokens[0]!;
  statsCommentDdx = 0;
  statsCommentHash = 0;
  statsTokens = 0;
  /** While folding: whether the input has more tokens. */
  more = true;
  /** Number of tokens of the fingerprint: the types of tokens[0, fingerprintLength). */
  fingerprintLength = 0;

  constructor(
    public s: string,
    public flags: number,
  ) {}

  /** The fingerprint as libinjection writes it (made on demand: the detection compares type codes). */
  get fingerprint(): string {
    let fp = '';
    for (let i = 0; i < this.fingerprintLength; i++) fp += this.tokens[i]!.typeChar;
    return fp;
  }

  /** Makes this state a fresh one for `s` (detectSqli reuses one state: no allocation per value). */
  reset(s: string, flags: number): this {
    this.s = s;
    this.flags = flags;
    this.pos = 0;
    for (let i = 0; i < this.tokens.length; i++) assign(this.tokens[i]!, T.none, 0, '', 0, 0);
    this.current = this.tokens[0]!;
    this.statsCommentDdx = 0;
    this.statsCommentHash = 0;
    this.statsTokens = 0;
    this.fingerprintLength = 0;
    return this;
  }

  /** The next token into `current`: false at the end of the input. */
  tokenize(): boolean {
    const s = this.s;
    if (s.length === 0) return false;
    const cur = this.current;
    assign(cur, T.none, 0, '', 0, 0);
    if (this.pos === 0 && (this.flags & (FLAG_QUOTE_SINGLE | FLAG_QUOTE_DOUBLE)) !== 0) {
      this.pos = parseStringCore(s, 0, cur, this.flags & FLAG_QUOTE_SINGLE ? "'" : '"', 0);
      this.statsTokens += 1;
      return true;
    }
    while (this.pos < s.length) {
      const handler = HANDLERS[CHAR_CLASS_INDEX[s.charCodeAt(this.pos) & 0xff]!]!;
      this.pos = handler(this);
      if (cur.type !== T.none) {
        this.statsTokens += 1;
        return true;
      }
    }
    return false;
  }
}

function parseWhite(st: SqliState): number {
  return st.pos + 1;
}

function parseOperator1(st: SqliState): number {
  assign(st.current, T.operator, st.pos, st.s, st.pos, 1);
  return st.pos + 1;
}

function parseOther(st: SqliState): number {
  assign(st.current, T.unknown, st.pos, st.s, st.pos, 1);
  return st.pos + 1;
}

/** ( ) , ; { }: the char is its own type (the char itself, whatever its class by low byte). */
function parseChar(st: SqliState): number {
  assign(st.current, st.s.charCodeAt(st.pos), st.pos, st.s, st.pos, 1);
  return st.pos + 1;
}

function parseEolComment(st: SqliState): number {
  const { s, pos } = st;
  const end = s.indexOf('\n', pos);
  if (end === -1) {
    assign(st.current, T.comment, pos, s, pos, s.length - pos);
    return s.length;
  }
  assign(st.current, T.comment, pos, s, pos, end - pos);
  return end + 1;
}

// Operators whose class is decided by the low byte are written as their ASCII char (a char U+0123 is read as '#').
function parseHash(st: SqliState): number {
  st.statsCommentHash += 1;
  if (st.flags & FLAG_SQL_MYSQL) {
    st.statsCommentHash += 1;
    return parseEolComment(st);
  }
  assignText(st.current, T.operator, st.pos, '#');
  return st.pos + 1;
}

function parseDash(st: SqliState): number {
  const { s, pos } = st;
  const n = s.length;
  const next = s.charCodeAt(pos + 1);
  if (pos + 2 < n && next === 45 && isWhiteCode(s.charCodeAt(pos + 2))) return parseEolComment(st);
  if (pos + 2 === n && next === 45) return parseEolComment(st);
  if (pos + 1 < n && next === 45 && st.flags & FLAG_SQL_ANSI) {
    st.statsCommentDdx += 1;
    return parseEolComment(st);
  }
  assignText(st.current, T.operator, pos, '-');
  return pos + 1;
}

function parseSlash(st: SqliState): number {
  const { s, pos } = st;
  if (pos + 1 === s.length || s.charCodeAt(pos + 1) !== 42) return parseOperator1(st);
  const close = s.indexOf('*/', pos + 2);
  const length = close === -1 ? s.length - pos : close + 2 - pos;
  let type: number = T.comment;
  // A comment opened inside a comment (PostgreSQL nests them) or MySQL's executable /*! ... */ comment: evil.
  let nested = false;
  for (let i = pos + 2; i < close && !nested; i++) nested = s.charCodeAt(i) === 47 && s.charCodeAt(i + 1) === 42;
  if (nested || (pos + 2 < s.length && s.charCodeAt(pos + 2) === 33)) type = T.evil;
  assign(st.current, type, pos, s, pos, length);
  return pos + length;
}

function parseBackslash(st: SqliState): number {
  const { s, pos } = st;
  // MySQL's \N is NULL.
  if (pos + 1 < s.length && s.charCodeAt(pos + 1) === 78) {
    assign(st.current, T.number, pos, s, pos, 2);
    return pos + 2;
  }
  assign(st.current, T.backslash, pos, s, pos, 1);
  return pos + 1;
}

function parseOperator2(st: SqliState): number {
  const { s, pos } = st;
  if (pos + 1 >= s.length) return parseOperator1(st);
  if (pos + 2 < s.length && s.charCodeAt(pos) === 60 && s.charCodeAt(pos + 1) === 61 && s.charCodeAt(pos + 2) === 62) {
    assign(st.current, T.operator, pos, s, pos, 3); // <=>
    return pos + 3;
  }
  const type = KEYWORD_TYPES.get(s, pos, 2);
  if (type !== T.none) {
    assign(st.current, type, pos, s, pos, 2);
    return pos + 2;
  }
  if (s.charCodeAt(pos) === 58) {
    assign(st.current, T.colon, pos, s, pos, 1);
    return pos + 1;
  }
  return parseOperator1(st);
}

/** Is the byte at `at` escaped by an odd run of backslashes that starts after `start`? */
function backslashEscaped(s: string, at: number, start: number): boolean {
  let i = at - 1;
  while (i >= start && s.charCodeAt(i) === 92) i--;
  return (at - 1 - i) % 2 === 1;
}

/** A string from `pos` (+ `offset`, the opening quote) to its closing `delim`; returns the position after it. */
function parseStringCore(s: string, pos: number, t: Token, delim: string, offset: number): number {
  const start = pos + offset;
  const delimCode = delim.charCodeAt(0);
  let q = s.indexOf(delim, start);
  for (;;) {
    if (q === -1) {
      assign(t, T.string, start, s, start, s.length - start);
      t.strOpen = offset > 0 ? delim : '';
      t.strClose = '';
      return s.length;
    }
    if (backslashEscaped(s, q, start)) {
      q = s.indexOf(delim, q + 1);
    } else if (q + 1 < s.length && s.charCodeAt(q + 1) === delimCode) {
      q = s.indexOf(delim, q + 2);
    } else {
      assign(t, T.string, start, s, start, q - start);
      t.strOpen = offset > 0 ? delim : '';
      t.strClose = delim;
      return q + 1;
    }
  }
}

function parseString(st: SqliState): number {
  return parseStringCore(st.s, st.pos, st.current, st.s[st.pos]!, 1);
}

/** E'...' (PostgreSQL escape string); otherwise a word. */
function parseEString(st: SqliState): number {
  const { s, pos } = st;
  if (pos + 2 >= s.length || s.charCodeAt(pos + 1) !== 39) return parseWord(st);
  return parseStringCore(s, pos, st.current, "'", 2);
}

/** U&'...' (unicode string); otherwise a word. */
function parseUString(st: SqliState): number {
  const { s, pos } = st;
  if (pos + 2 < s.length && s.charCodeAt(pos + 1) === 38 && s.charCodeAt(pos + 2) === 39) {
    st.pos += 2;
    const next = parseString(st);
    st.current.strOpen = 'u';
    if (st.current.strClose === "'") st.current.strClose = 'u';
    return next;
  }
  return parseWord(st);
}

const CLOSING: Record<string, string> = { '(': ')', '[': ']', '{': '}', '<': '>' };

/** Oracle's q'[...]' (any delimiter, brackets closed by their pair), from `offset` (1 after N). */
function parseQStringCore(st: SqliState, offset: number): number {
  const { s } = st;
  const pos = st.pos + offset;
  const q = s.charCodeAt(pos);
  if (pos >= s.length || (q !== 113 && q !== 81) || pos + 2 >= s.length || s.charCodeAt(pos + 1) !== 39) {
    return parseWord(st);
  }
  const open = s.charCodeAt(pos + 2);
  if (open < 33 || open > 127) return parseWord(st);
  const close = (CLOSING[s[pos + 2]!] ?? s[pos + 2]!) + "'";
  const found = s.indexOf(close, pos + 3);
  const t = st.current;
  if (found === -1) {
    assign(t, T.string, pos + 3, s, pos + 3, s.length - pos - 3);
    t.strOpen = 'q';
    t.strClose = '';
    return s.length;
  }
  assign(t, T.string, pos + 3, s, pos + 3, found - pos - 3);
  t.strOpen = 'q';
  t.strClose = 'q';
  return found + 2;
}

const parseQString = (st: SqliState): number => parseQStringCore(st, 0);

/** N'...' (national string) or Nq'...'. */
function parseNqString(st: SqliState): number {
  const { s, pos } = st;
  if (pos + 2 < s.length && s.charCodeAt(pos + 1) === 39) return parseEString(st);
  return parseQStringCore(st, 1);
}

/** b'0101' / x'4f' literals (MySQL): numbers; otherwise a word. */
function digitString(digits: Uint8Array): Handler {
  return (st) => {
    const { s, pos } = st;
    if (pos + 2 >= s.length || s.charCodeAt(pos + 1) !== 39) return parseWord(st);
    const n = spanOf(s, pos + 2, digits);
    if (pos + 2 + n >= s.length || s.charCodeAt(pos + 2 + n) !== 39) return parseWord(st);
    assign(st.current, T.number, pos, s, pos, n + 3);
    return pos + n + 3;
  };
}

/** [name] (SQL Server quoted identifier). */
function parseBWord(st: SqliState): number {
  const { s, pos } = st;
  const end = s.indexOf(']', pos);
  if (end === -1) {
    assign(st.current, T.bareword, pos, s, pos, s.length - pos);
    return s.length;
  }
  assign(st.current, T.bareword, pos, s, pos, end + 1 - pos);
  return end + 1;
}

/** The keyword type of s[start, start + length), hashed by the caller when `ascii` (see WordTable.find). */
const keywordOf = (h: number, ascii: boolean, s: string, start: number, length: number): number =>
  ascii ? KEYWORD_TYPES.find(h, s, start, length) : KEYWORD_TYPES.get(s, start, length);

/** A word up to the next stop byte, a keyword when it is one; one pass that hashes as it scans. */
function parseWord(st: SqliState): number {
  const { s, pos } = st;
  const t = st.current;
  let h = FNV_OFFSET;
  let ascii = true;
  let i = pos;
  // The kept 31 chars: hashed for the keyword lookup, and "SELECT.1", "SELECT`col`": a keyword before '.' or '`'
  // is a token of its own.
  const kept = Math.min(s.length, pos + TOKEN_SIZE - 1);
  for (; i < kept; i++) {
    const c = s.charCodeAt(i);
    if (WORD_STOP[c & 0xff] === 1) break;
    if (c === 46 || c === 96) {
      const type = keywordOf(h, ascii, s, pos, i - pos);
      if (type !== T.none && type !== T.bareword) {
        assign(t, type, pos, s, pos, i - pos);
        return i;
      }
    }
    if (c >= 0x80) ascii = false;
    else h = hashStep(h, c);
  }
  // A longer word (base64, tokens) is a bareword: the rest is only scanned.
  if (i === kept) i += spanNotOf(s, i, WORD_STOP);
  const n = i - pos;
  assign(t, T.bareword, pos, s, pos, n);
  if (n < TOKEN_SIZE) t.type = keywordOf(h, ascii, s, pos, n) || T.bareword;
  return i;
}

/** `name` (MySQL): a bareword, or a function when the name is one. */
function parseTick(st: SqliState): number {
  const next = parseStringCore(st.s, st.pos, st.current, '`', 1);
  const t = st.current;
  t.type = KEYWORD_TYPES.get(t.src, t.start, t.len) === T.func ? T.func : T.bareword;
  return next;
}

function parseVariable(st: SqliState): number {
  const { s } = st;
  let p = st.pos + 1;
  let count = 1;
  if (p < s.length && s.charCodeAt(p) === 64) {
    p += 1;
    count = 2;
  }
  const t = st.current;
  const quote = s.charCodeAt(p);
  if (p < s.length && (quote === 96 || quote === 39 || quote === 34)) {
    st.pos = p;
    const next = quote === 96 ? parseTick(st) : parseString(st);
    t.type = T.variable;
    t.count = count;
    return next;
  }
  const n = spanNotOf(s, p, VARIABLE_STOP);
  assign(t, T.variable, p, s, p, n);
  t.count = count;
  return p + n;
}

function parseMoney(st: SqliState): number {
  const { s, pos } = st;
  const t = st.current;
  if (pos + 1 === s.length) {
    assignText(t, T.bareword, pos, '$');
    return s.length;
  }
  const n = spanOf(s, pos + 1, MONEY_DIGITS);
  if (n === 1 && s.charCodeAt(pos + 1) === 46) return parseWord(st);
  if (n > 0) {
    assign(t, T.number, pos, s, pos, 1 + n);
    return pos + 1 + n;
  }
  // PostgreSQL dollar quoting: $$...$$ or $tag$...$tag$.
  let tagEnd: number;
  if (s.charCodeAt(pos + 1) === 36) tagEnd = pos + 2;
  else {
    const letters = spanOf(s, pos + 1, LETTERS);
    if (letters === 0 || pos + letters + 1 === s.length || s.charCodeAt(pos + letters + 1) !== 36) {
      assignText(t, T.bareword, pos, '$');
      return pos + 1;
    }
    tagEnd = pos + letters + 2;
  }
  const tag = s.slice(pos, tagEnd);
  const end = s.indexOf(tag, tagEnd);
  if (end === -1) {
    assign(t, T.string, tagEnd, s, tagEnd, s.length - tagEnd);
    t.strOpen = '$';
    t.strClose = '';
    return s.length;
  }
  assign(t, T.string, tagEnd, s, tagEnd, end - tagEnd);
  t.strOpen = '$';
  t.strClose = '$';
  return end + tag.length;
}

function parseNumber(st: SqliState): number {
  const { s } = st;
  let pos = st.pos;
  const t = st.current;
  if (s.charCodeAt(pos) === 48 && pos + 1 < s.length) {
    const x = s.charCodeAt(pos + 1);
    const digits = x === 120 || x === 88 ? HEX_DIGITS : x === 98 || x === 66 ? BINARY_DIGITS : undefined;
    if (digits !== undefined) {
      const n = spanOf(s, pos + 2, digits);
      assign(t, n === 0 ? T.bareword : T.number, pos, s, pos, 2 + n);
      return pos + 2 + n;
    }
  }
  const start = pos;
  while (pos < s.length && isDigitCode(s.charCodeAt(pos))) pos++;
  if (pos < s.length && s.charCodeAt(pos) === 46) {
    pos++;
    while (pos < s.length && isDigitCode(s.charCodeAt(pos))) pos++;
    if (pos - start === 1) {
      assignText(t, T.dot, start, '.');
      return pos;
    }
  }
  let haveE = false;
  let haveExp = false;
  const e = s.charCodeAt(pos);
  if (pos < s.length && (e === 101 || e === 69)) {
    haveE = true;
    pos++;
    const sign = s.charCodeAt(pos);
    if (pos < s.length && (sign === 43 || sign === 45)) pos++;
    while (pos < s.length && isDigitCode(s.charCodeAt(pos))) {
      haveExp = true;
      pos++;
    }
  }
  // Oracle's float/double suffix: 1.2f, 1f UNION; "123FROM" stays 123 then FROM.
  const suffix = s.charCodeAt(pos);
  if (pos < s.length && (suffix === 100 || suffix === 68 || suffix === 102 || suffix === 70)) {
    const next = s.charCodeAt(pos + 1);
    if (pos + 1 === s.length || isWhiteCode(next) || next === 59 || next === 117 || next === 85) pos++;
  }
  assign(t, haveE && !haveExp ? T.bareword : T.number, start, s, start, pos - start);
  return pos;
}

const HANDLER_BY_CLASS: Record<string, Handler> = {
  CHAR_WHITE: parseWhite,
  CHAR_BANG: parseOperator2,
  CHAR_STR: parseString,
  CHAR_HASH: parseHash,
  CHAR_MONEY: parseMoney,
  CHAR_OP1: parseOperator1,
  CHAR_OP2: parseOperator2,
  CHAR_LEFTPARENS: parseChar,
  CHAR_RIGHTPARENS: parseChar,
  CHAR_UNARY: parseOperator1,
  CHAR_COMMA: parseChar,
  CHAR_DASH: parseDash,
  CHAR_NUM: parseNumber,
  CHAR_SLASH: parseSlash,
  CHAR_SEMICOLON: parseChar,
  CHAR_OTHER: parseOther,
  CHAR_VAR: parseVariable,
  CHAR_WORD: parseWord,
  CHAR_BSTRING: digitString(BINARY_DIGITS),
  CHAR_ESTRING: parseEString,
  CHAR_NQSTRING: parseNqString,
  CHAR_QSTRING: parseQString,
  CHAR_USTRING: parseUString,
  CHAR_XSTRING: digitString(HEX_DIGITS),
  CHAR_BWORD: parseBWord,
  CHAR_BACK: parseBackslash,
  CHAR_TICK: parseTick,
  CHAR_LEFTBRACE: parseChar,
  CHAR_RIGHTBRACE: parseChar,
};

const HANDLERS: Handler[] = CHAR_CLASS_NAMES.map((name) => {
  const h = HANDLER_BY_CLASS[name];
  if (h === undefined) throw new Error(`libinjection data: unknown character class ${name}`);
  return h;
});
const CHAR_CLASS_INDEX = Uint8Array.from(CHAR_CLASSES, (c) => c.charCodeAt(0) - 97);

// ---- folding ----

const isUnaryOperator = (t: Token): boolean => {
  if (t.type !== T.operator) return false;
  const n = t.len;
  if (n === 1) {
    const c = charAt(t, 0);
    return c === 43 || c === 45 || c === 33 || c === 126; // + - ! ~
  }
  if (n === 2) return charAt(t, 0) === 33 && charAt(t, 1) === 33; // !!
  return n === 3 && textIs(t, 'NOT');
};

const isArithmeticOperator = (t: Token): boolean => {
  if (t.type !== T.operator || t.len !== 1) return false;
  const c = charAt(t, 0);
  return c === 42 || c === 47 || c === 45 || c === 43 || c === 37; // * / - + %
};

/** A set of token types as a membership table indexed by type code (types are chars; 0-127 in practice). */
function typeSet(...types: number[]): Uint8Array {
  const table = new Uint8Array(128);
  for (const t of types) table[t] = 1;
  return table;
}
/** Whether `type` is in `set` (a type code >= 128 comes from parseChar on a non-ASCII char: in no set). */
const isIn = (type: number, set: Uint8Array): boolean => type < 128 && set[type] === 1;

const MERGE_FIRST_TYPES = [T.keyword, T.bareword, T.operator, T.union, T.func, T.expression, T.tsql, T.sqlType];
const MERGE_FIRST = typeSet(...MERGE_FIRST_TYPES);
const MERGE_SECOND = typeSet(...MERGE_FIRST_TYPES, T.logicOperator);

/** "UNION" + "ALL" → "UNION ALL" when the pair is a keyword of its own. */
function mergeWords(a: Token, b: Token): boolean {
  if (!isIn(a.type, MERGE_FIRST) || !isIn(b.type, MERGE_SECOND)) return false;
  if (a.len + 1 + b.len >= TOKEN_SIZE || !MERGE_PREFIXES.get(a.src, a.start, a.len)) return false;
  const type = KEYWORD_TYPES.getPair(a.src, a.start, a.len, b.src, b.start, b.len);
  if (type === T.none) return false;
  const merged = `${a.val} ${b.val}`;
  assign(a, type, a.pos, merged, 0, merged.length);
  return true;
}

// T-SQL/MySQL functions common enough as column names: a function only when followed by '('.
const FUNCTION_WHEN_CALLED = new WordTable<boolean>(
  [
    'USER_ID',
    'USER_NAME',
    'DATABASE',
    'PASSWORD',
    'USER',
    'CURRENT_USER',
    'CURRENT_DATE',
    'CURRENT_TIME',
    'CURRENT_TIMESTAMP',
    'LOCALTIME',
    'LOCALTIMESTAMP',
  ].map((w) => [w, true] as const),
  false,
);

const AFTER_SQLTYPE = typeSet(T.bareword, T.number, T.sqlType, T.leftParens, T.func, T.variable, T.string);
const VAR_NUM_WORD = typeSet(T.variable, T.number, T.bareword);
const WORD_NUM = typeSet(T.bareword, T.number);
const VALUE = typeSet(T.bareword, T.number, T.variable, T.string);
const EXPR_GROUP_COMMA = typeSet(T.expression, T.group, T.comma);
const KEYWORD_EXPR_GROUP = typeSet(T.keyword, T.expression, T.group);
const VALUE_OR_FUNCTION = typeSet(T.number, T.bareword, T.variable, T.string, T.func);

/** The last comment seen by the fold in progress (one at a time per thread, as SHARED_STATE below). */
const LAST_COMMENT = new Token();

/**
 * Tokens into v[pos...] until `upTo` tokens from `left` are there or the input ends (a comment is kept aside in
 * LAST_COMMENT, not counted). Returns the new pos; `st.more` says whether the input goes on.
 */
function pull(st: SqliState, pos: number, left: number, upTo: number): number {
  const v = st.tokens;
  while (st.more && pos <= MAX_TOKENS && pos - left < upTo) {
    st.current = v[pos]!;
    st.more = st.tokenize();
    if (st.more) {
      if (st.current.type === T.comment) copyToken(LAST_COMMENT, st.current);
      else {
        LAST_COMMENT.type = T.none;
        pos += 1;
      }
    }
  }
  return pos;
}

/** Tokenizes and folds; returns the number of tokens that make the fingerprint (at most 5). */
export function fold(st: SqliState): number {
  const v = st.tokens;
  const lastComment = LAST_COMMENT;
  assign(lastComment, T.none, 0, '', 0, 0);
  let left = 0;
  st.more = true;

  // Leading comments, '(' , SQL types and unary operators say nothing.
  st.current = v[0]!;
  while (st.more) {
    st.more = st.tokenize();
    const c = st.current;
    if (!(c.type === T.comment || c.type === T.leftParens || c.type === T.sqlType || isUnaryOperator(c))) break;
  }
  if (!st.more) return 0;
  let pos = 1;

  for (;;) {
    if (pos >= MAX_TOKENS) {
      const a = v[0]!.type;
      const b = v[1]!.type;
      const c = v[2]!.type;
      const d = v[3]!.type;
      const e = v[4]!.type;
      if (
        (a === T.number &&
          (b === T.operator || b === T.comma) &&
          c === T.leftParens &&
          d === T.number &&
          e === T.rightParens) ||
        (a === T.bareword &&
          b === T.operator &&
          c === T.leftParens &&
          (d === T.bareword || d === T.number) &&
          e === T.rightParens) ||
        (a === T.number && b === T.rightParens && c === T.comma && d === T.leftParens && e === T.number) ||
        (a === T.bareword && b === T.rightParens && c === T.operator && d === T.leftParens && e === T.bareword)
      ) {
        if (pos > MAX_TOKENS) {
          copyToken(v[1]!, v[MAX_TOKENS]!);
          pos = 2;
        } else pos = 1;
        left = 0;
      }
    }
    if (!st.more || left >= MAX_TOKENS) {
      left = pos;
      break;
    }

    pos = pull(st, pos, left, 2);
    if (pos - left < 2) {
      left = pos;
      continue;
    }
    const a = v[left]!;
    const b = v[left + 1]!;
    if (a.type === T.string && b.type === T.string) {
      pos -= 1;
      continue;
    }
    if (a.type === T.semicolon && b.type === T.semicolon) {
      pos -= 1;
      continue;
    }
    if ((a.type === T.operator || a.type === T.logicOperator) && (isUnaryOperator(b) || b.type === T.sqlType)) {
      pos -= 1;
      left = 0;
      continue;
    }
    if (a.type === T.leftParens && isUnaryOperator(b)) {
      pos -= 1;
      if (left > 0) left -= 1;
      continue;
    }
    if (mergeWords(a, b)) {
      pos -= 1;
      if (left > 0) left -= 1;
      continue;
    }
    if (a.type === T.semicolon && b.type === T.func && startsWithIf(b)) {
      b.type = T.tsql; // "; IF 1=1 ..." is T-SQL control flow, not the function
      continue;
    }
    if (
      (a.type === T.bareword || a.type === T.variable) &&
      b.type === T.leftParens &&
      FUNCTION_WHEN_CALLED.get(a.src, a.start, a.len)
    ) {
      a.type = T.func;
      continue;
    }
    if (a.type === T.keyword && (textIs(a, 'IN') || textIs(a, 'NOT IN'))) {
      a.type = b.type === T.leftParens ? T.operator : T.bareword;
      continue;
    }
    if (a.type === T.operator && (textIs(a, 'LIKE') || textIs(a, 'NOT LIKE'))) {
      if (b.type === T.leftParens) a.type = T.func; // SELECT LIKE(...)
    } else if (a.type === T.sqlType && isIn(b.type, AFTER_SQLTYPE)) {
      copyToken(a, b);
      pos -= 1;
      left = 0;
      continue;
    } else if (a.type === T.collate && b.type === T.bareword) {
      if (textHas(b, 95)) {
        b.type = T.sqlType;
        left = 0;
      }
    } else if (a.type === T.backslash) {
      if (isArithmeticOperator(b))
        a.type = T.number; // T-SQL: '\%1' is '0 % 1'
      else {
        copyToken(a, b);
        pos -= 1;
      }
      left = 0;
      continue;
    } else if (a.type === T.leftParens && b.type === T.leftParens) {
      pos -= 1;
      left = 0;
      continue;
    } else if (a.type === T.rightParens && b.type === T.rightParens) {
      pos -= 1;
      left = 0;
      continue;
    } else if (a.type === T.leftBrace && b.type === T.bareword) {
      if (b.len === 0) {
        b.type = T.evil; // MySQL's { ``.``.id }
        return left + 2;
      }
      left = 0; // ODBC { foo expr } → expr
      pos -= 2;
      continue;
    } else if (b.type === T.rightBrace) {
      pos -= 1;
      left = 0;
      continue;
    }

    pos = pull(st, pos, left, 3);
    if (pos - left < 3) {
      left = pos;
      continue;
    }
    const x = v[left]!;
    const y = v[left + 1]!;
    const z = v[left + 2]!;
    if (x.type === T.number && y.type === T.operator && z.type === T.number) {
      pos -= 2;
      left = 0;
      continue;
    }
    if (x.type === T.operator && y.type !== T.leftParens && z.type === T.operator) {
      left = 0;
      pos -= 2;
      continue;
    }
    if (x.type === T.logicOperator && z.type === T.logicOperator) {
      pos -= 2;
      left = 0;
      continue;
    }
    if (x.type === T.variable && y.type === T.operator && isIn(z.type, VAR_NUM_WORD)) {
      pos -= 2;
      left = 0;
      continue;
    }
    if (isIn(x.type, WORD_NUM) && y.type === T.operator && isIn(z.type, WORD_NUM)) {
      pos -= 2;
      left = 0;
      continue;
    }
    if (isIn(x.type, VALUE) && y.type === T.operator && y.len === 2 && charAt(y, 0) === 58 && charAt(y, 1) === 58) {
      if (z.type === T.sqlType) {
        pos -= 2; // value::type
        left = 0;
        continue;
      }
    }
    if (isIn(x.type, VALUE) && y.type === T.comma && isIn(z.type, VALUE)) {
      pos -= 2;
      left = 0;
      continue;
    }
    if (isIn(x.type, EXPR_GROUP_COMMA) && isUnaryOperator(y) && z.type === T.leftParens) {
      copyToken(y, z); // SELECT + ( → SELECT (
      pos -= 1;
      left = 0;
      continue;
    }
    if (isIn(x.type, KEYWORD_EXPR_GROUP) && isUnaryOperator(y) && isIn(z.type, VALUE_OR_FUNCTION)) {
      copyToken(y, z); // SELECT -1
      pos -= 1;
      left = 0;
      continue;
    }
    if (x.type === T.comma && isUnaryOperator(y) && isIn(z.type, VALUE)) {
      copyToken(y, z); // "1,-1" → "1,1", then back up to fold "1,1"
      left = 0;
      pos -= 3;
      continue;
    }
    if (x.type === T.comma && isUnaryOperator(y) && z.type === T.func) {
      copyToken(y, z);
      pos -= 1;
      left = 0;
      continue;
    }
    if (x.type === T.bareword && y.type === T.dot && z.type === T.bareword) {
      pos -= 2; // database.table
      left = 0;
      continue;
    }
    if (x.type === T.expression && y.type === T.dot && z.type === T.bareword) {
      copyToken(y, z); // SELECT . `foo`
      pos -= 1;
      left = 0;
      continue;
    }
    if (x.type === T.func && y.type === T.leftParens && z.type !== T.rightParens) {
      if (textIs(x, 'USER')) x.type = T.bareword; // USER() takes no arguments
    }
    left += 1;
  }

  if (left < MAX_TOKENS && lastComment.type === T.comment) {
    copyToken(v[left]!, lastComment);
    left += 1;
  }
  return Math.min(left, MAX_TOKENS);
}

/** `b.val.slice(0, 2).toUpperCase() === 'IF'`. */
function startsWithIf(b: Token): boolean {
  const n = Math.min(b.len, 2);
  if (hasHighChar(b.src, b.start, n)) return b.val.slice(0, 2).toUpperCase() === 'IF';
  return n === 2 && upper(charAt(b, 0)) === 73 && upper(charAt(b, 1)) === 70;
}

/** The fingerprint of `s` read in one quote context and dialect; the state keeps the tokens. */
export function fingerprintOf(s: string, flags: number, st: SqliState = new SqliState(s, flags)): SqliState {
  st.reset(s, flags);
  const n = fold(st);
  const v = st.tokens;
  // PHP's magic backquote comment: an empty unclosed `...` at the end.
  if (n > 2) {
    const last = v[n - 1]!;
    if (last.type === T.bareword && last.strOpen === '`' && last.len === 0 && last.strClose === '') {
      last.type = T.comment;
    }
  }
  st.fingerprintLength = n;
  for (let i = 0; i < n; i++) {
    if (v[i]!.type === T.evil) {
      st.fingerprintLength = 1;
      assignText(v[0]!, T.evil, 0, 'X');
      v[1]!.type = T.none;
      break;
    }
  }
  return st;
}

/** Whether the state's fingerprint, upper-cased, is in libinjection's list (without making the string). */
function hasSqliFingerprint(st: SqliState): boolean {
  let key = 0;
  let chars = 0;
  for (let i = 0; i < st.fingerprintLength; i++) {
    const type = st.tokens[i]!.type;
    if (type === T.none) continue; // no char in the fingerprint
    // A type >= 128 is a non-ASCII char (parseChar): `toUpperCase` decides, as in isSqliFingerprint.
    if (type >= 128) return isSqliFingerprint(st.fingerprint);
    const index = FINGERPRINT_CHAR_INDEX[upper(type)]!;
    if (index < 0) return false; // a char no listed fingerprint has
    key = key * 32 + index;
    chars++;
  }
  if (chars === 0) return false;
  return chars <= 3 ? SHORT_FINGERPRINTS[key] === 1 : FINGERPRINT_KEYS.has(key);
}

/** The fingerprint is in the list, and none of the rules for ordinary text applies. */
function isSqliState(st: SqliState): boolean {
  if (!hasSqliFingerprint(st)) return false;
  // A listed fingerprint: rare on ordinary values, so the rules below may build strings.
  const fp = st.fingerprint;
  const v = st.tokens;
  const s = st.s;
  if (fp.length > 1 && fp[fp.length - 1] === 'c' && s.includes('sp_password')) return true;
  if (fp.length === 2) {
    if (fp[1] === 'U') return st.statsTokens !== 2; // "1 union" alone is ordinary text
    const second = v[1]!.val;
    if (second[0] === '#') return false;
    if (v[0]!.type === T.bareword && v[1]!.type === T.comment && second[0] !== '/') return false;
    if (v[0]!.type === T.number && v[1]!.type === T.comment) {
      if (second[0] === '/') return true;
      if (st.statsTokens > 2) return true;
      const after = v[0]!.len;
      // whitespace, a control byte or the end of the input after the number
      if (after >= s.length || s.charCodeAt(after) <= 32) return true;
      if (s[after] === '/' && s[after + 1] === '*') return true;
      if (s[after] === '-' && s[after + 1] === '-') return true;
      return false;
    }
    if (second.length > 2 && second[0] === '-') return false;
    return true;
  }
  if (fp.length === 3) {
    const upperFp = fp.toUpperCase();
    if (upperFp === 'SOS' || upperFp === 'S&S') {
      // ...foo" + "bar...: both strings open outwards, the same quote between them.
      return v[0]!.strOpen === '' && v[2]!.strClose === '' && v[0]!.strClose === v[2]!.strOpen;
    }
    if (['S&N', 'N&1', '1&1', '1&V', '1&S'].includes(upperFp)) return st.statsTokens !== 3;
    if (v[1]!.type === T.keyword) {
      const k = v[1]!.val.toUpperCase();
      return k.length >= 5 && k.startsWith('INTO');
    }
  }
  return true;
}

// One state for every detectSqli call: calls are synchronous and one at a time per thread (the engine's worker
// thread has its own copy of this module), and nothing keeps the state after a call.
const SHARED_STATE = new SqliState('', 0);

/** Whether MySQL comment syntax was seen (then the input is parsed again in MySQL mode). */
const reparseAsMysql = (st: SqliState): boolean => st.statsCommentDdx > 0 || st.statsCommentHash > 0;

/** The context's verdict: the fingerprint when it is SQL injection. */
function sqliIn(s: string, flags: number): string | undefined {
  const st = fingerprintOf(s, flags, SHARED_STATE);
  return isSqliState(st) ? st.fingerprint : undefined;
}

/**
 * libinjection_is_sqli: the fingerprint of the first context that is SQL injection, or undefined. Contexts: as is,
 * after a single quote, after a double quote; ANSI and, when the text uses MySQL comments, MySQL.
 */
export function detectSqli(s: string): string | undefined {
  if (s.length === 0) return undefined;
  let found = sqliIn(s, FLAG_QUOTE_NONE | FLAG_SQL_ANSI);
  if (found !== undefined) return found;
  if (reparseAsMysql(SHARED_STATE)) {
    found = sqliIn(s, FLAG_QUOTE_NONE | FLAG_SQL_MYSQL);
    if (found !== undefined) return found;
  }
  if (s.includes("'")) {
    found = sqliIn(s, FLAG_QUOTE_SINGLE | FLAG_SQL_ANSI);
    if (found !== undefined) return found;
    if (reparseAsMysql(SHARED_STATE)) {
      found = sqliIn(s, FLAG_QUOTE_SINGLE | FLAG_SQL_MYSQL);
      if (found !== undefined) return found;
    }
  }
  if (s.includes('"')) return sqliIn(s, FLAG_QUOTE_DOUBLE | FLAG_SQL_MYSQL);
  return undefined;
}

export const SQLI_FLAGS = { FLAG_QUOTE_NONE, FLAG_QUOTE_SINGLE, FLAG_QUOTE_DOUBLE, FLAG_SQL_ANSI, FLAG_SQL_MYSQL };
