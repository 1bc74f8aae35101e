// REFERENCE COPY, not shipped: plugins/bulwark-threat-protection/libinjection/sqli.ts as it was on main 5abc7f6, before
// the detectors were rewritten for speed. Frozen as the oracle: spec/plugins/bulwark-threat-protection/
// libinjection-equivalence.test.ts checks that the shipped detectors give exactly its verdicts and fingerprints, and
// scripts/bench/libinjection.ts measures both in one run. Do not optimise or fix it here; change the shipped one.
//
// SQL injection detection by tokenization, libinjection's method (Nick Galbreath's libinjection, BSD-3-Clause;
// its published data in ./sqli-data.ts, licence in ./COPYING): the input is tokenized as SQL would be, tokens
// are folded (constant expressions, unary operators, merged keywords such as "UNION ALL"), the types of the first
// five tokens form a fingerprint, and a fingerprint listed in the data is SQL injection unless one of a few rules
// says it is ordinary text. Each input is read as it would be after an opening quote of no kind, ' or " (and
// again with MySQL comment rules when the text uses them), as libinjection does.
//
// Work is linear in the input: every token consumes the bytes it scanned, the folding holds at most six tokens,
// and is_sqli parses at most five times. Input is a byte string (one char per byte, as the engine's values are).
import {
  CHAR_CLASS_NAMES,
  CHAR_CLASSES,
  FINGERPRINTS,
  KEYWORDS,
} from '../../../plugins/bulwark-threat-protection/libinjection/sqli-data';

// Token types: libinjection's one-letter codes, which the fingerprints are made of.
export const T = {
  none: '',
  keyword: 'k',
  union: 'U',
  group: 'B',
  expression: 'E',
  sqlType: 't',
  func: 'f',
  bareword: 'n',
  number: '1',
  variable: 'v',
  string: 's',
  operator: 'o',
  logicOperator: '&',
  comment: 'c',
  collate: 'A',
  leftParens: '(',
  rightParens: ')',
  leftBrace: '{',
  rightBrace: '}',
  dot: '.',
  comma: ',',
  colon: ':',
  semicolon: ';',
  tsql: 'T',
  unknown: '?',
  evil: 'X',
  backslash: '\\',
} as const;

const FLAG_QUOTE_NONE = 1;
const FLAG_QUOTE_SINGLE = 2;
const FLAG_QUOTE_DOUBLE = 4;
const FLAG_SQL_ANSI = 8;
const FLAG_SQL_MYSQL = 16;

const MAX_TOKENS = 5;
/** Token text is kept up to 31 bytes, as libinjection's fixed token buffer. */
const TOKEN_SIZE = 32;

const KEYWORD_TYPES = new Map<string, string>(
  KEYWORDS.split('\n').map((line) => {
    const [word, type] = line.split('\u0001') as [string, string];
    return [word, type];
  }),
);
const FINGERPRINT_SET = new Set(FINGERPRINTS.split(' ').map((f) => f.toUpperCase()));

/** Keyword lookup, case-insensitive (the table is upper case). */
function lookupWord(word: string): string {
  return KEYWORD_TYPES.get(word.toUpperCase()) ?? T.none;
}

export function isSqliFingerprint(fingerprint: string): boolean {
  return fingerprint.length > 0 && FINGERPRINT_SET.has(fingerprint.toUpperCase());
}

export interface Token {
  type: string;
  pos: number;
  /** The token's text, at most TOKEN_SIZE - 1 bytes. */
  val: string;
  /** Opening and closing delimiter of a string ('' when none). */
  strOpen: string;
  strClose: string;
  /** Number of '@' of a variable. */
  count: number;
}

const newToken = (): Token => ({ type: T.none, pos: 0, val: '', strOpen: '', strClose: '', count: 0 });

function assign(t: Token, type: string, pos: number, val: string): void {
  t.type = type;
  t.pos = pos;
  t.val = val.length < TOKEN_SIZE ? val : val.slice(0, TOKEN_SIZE - 1);
  t.strOpen = '';
  t.strClose = '';
  t.count = 0;
}

function copyToken(to: Token, from: Token): void {
  to.type = from.type;
  to.pos = from.pos;
  to.val = from.val;
  to.strOpen = from.strOpen;
  to.strClose = from.strClose;
  to.count = from.count;
}

/** A 256-entry membership table of the bytes of `chars`. */
const byteTable = (chars: string): Uint8Array => {
  const table = new Uint8Array(256);
  for (let i = 0; i < chars.length; i++) table[chars.charCodeAt(i)] = 1;
  return table;
};
const WHITE = byteTable(' \t\n\v\f\r\xa0\0');
const isWhite = (ch: string | undefined): boolean => ch !== undefined && WHITE[ch.charCodeAt(0) & 0xff] === 1;
const isDigit = (ch: string | undefined): boolean => ch !== undefined && ch >= '0' && ch <= '9';

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

type Handler = (st: SqliState) => number;

/** One tokenizer run over `s` with the given quote context and dialect (libinjection's sqli state). */
export class SqliState {
  pos = 0;
  readonly tokens: Token[] = Array.from({ length: MAX_TOKENS + 3 }, newToken);
  current: Token = this.tokens[0]!;
  statsCommentDdx = 0;
  statsCommentHash = 0;
  statsTokens = 0;
  fingerprint = '';

  constructor(
    public s: string,
    public flags: number,
  ) {}

  /** Makes this state a fresh one for `s` (detectSqli reuses one state: no allocation per value). */
  reset(s: string, flags: number): this {
    this.s = s;
    this.flags = flags;
    this.pos = 0;
    for (const t of this.tokens) assign(t, T.none, 0, '');
    this.current = this.tokens[0]!;
    this.statsCommentDdx = 0;
    this.statsCommentHash = 0;
    this.statsTokens = 0;
    this.fingerprint = '';
    return this;
  }

  /** The next token into `current`: false at the end of the input. */
  tokenize(): boolean {
    const s = this.s;
    if (s.length === 0) return false;
    const cur = this.current;
    assign(cur, T.none, 0, '');
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
  assign(st.current, T.operator, st.pos, st.s[st.pos]!);
  return st.pos + 1;
}

function parseOther(st: SqliState): number {
  assign(st.current, T.unknown, st.pos, st.s[st.pos]!);
  return st.pos + 1;
}

function parseChar(st: SqliState): number {
  const ch = st.s[st.pos]!;
  assign(st.current, ch, st.pos, ch);
  return st.pos + 1;
}

function parseEolComment(st: SqliState): number {
  const { s, pos } = st;
  const end = s.indexOf('\n', pos);
  if (end === -1) {
    assign(st.current, T.comment, pos, s.slice(pos));
    return s.length;
  }
  assign(st.current, T.comment, pos, s.slice(pos, end));
  return end + 1;
}

function parseHash(st: SqliState): number {
  st.statsCommentHash += 1;
  if (st.flags & FLAG_SQL_MYSQL) {
    st.statsCommentHash += 1;
    return parseEolComment(st);
  }
  assign(st.current, T.operator, st.pos, '#');
  return st.pos + 1;
}

function parseDash(st: SqliState): number {
  const { s, pos } = st;
  const n = s.length;
  if (pos + 2 < n && s[pos + 1] === '-' && isWhite(s[pos + 2])) return parseEolComment(st);
  if (pos + 2 === n && s[pos + 1] === '-') return parseEolComment(st);
  if (pos + 1 < n && s[pos + 1] === '-' && st.flags & FLAG_SQL_ANSI) {
    st.statsCommentDdx += 1;
    return parseEolComment(st);
  }
  assign(st.current, T.operator, pos, '-');
  return pos + 1;
}

function parseSlash(st: SqliState): number {
  const { s, pos } = st;
  if (pos + 1 === s.length || s[pos + 1] !== '*') return parseOperator1(st);
  const close = s.indexOf('*/', pos + 2);
  const length = close === -1 ? s.length - pos : close + 2 - pos;
  let type: string = T.comment;
  // A comment opened inside a comment (PostgreSQL nests them) or MySQL's executable /*! ... */ comment: evil.
  const nested = close !== -1 && s.slice(pos + 2, close + 1).includes('/*');
  if (nested || (pos + 2 < s.length && s[pos + 2] === '!')) type = T.evil;
  assign(st.current, type, pos, s.slice(pos, pos + length));
  return pos + length;
}

function parseBackslash(st: SqliState): number {
  const { s, pos } = st;
  // MySQL's \N is NULL.
  if (pos + 1 < s.length && s[pos + 1] === 'N') {
    assign(st.current, T.number, pos, s.slice(pos, pos + 2));
    return pos + 2;
  }
  assign(st.current, T.backslash, pos, s[pos]!);
  return pos + 1;
}

function parseOperator2(st: SqliState): number {
  const { s, pos } = st;
  if (pos + 1 >= s.length) return parseOperator1(st);
  if (pos + 2 < s.length && s[pos] === '<' && s[pos + 1] === '=' && s[pos + 2] === '>') {
    assign(st.current, T.operator, pos, '<=>');
    return pos + 3;
  }
  const two = s.slice(pos, pos + 2);
  const type = lookupWord(two);
  if (type !== T.none) {
    assign(st.current, type, pos, two);
    return pos + 2;
  }
  if (s[pos] === ':') {
    assign(st.current, T.colon, pos, ':');
    return pos + 1;
  }
  return parseOperator1(st);
}

/** Is the byte at `at` escaped by an odd run of backslashes that starts after `start`? */
function backslashEscaped(s: string, at: number, start: number): boolean {
  let i = at - 1;
  while (i >= start && s[i] === '\\') i--;
  return (at - 1 - i) % 2 === 1;
}

/** A string from `pos` (+ `offset`, the opening quote) to its closing `delim`; returns the position after it. */
function parseStringCore(s: string, pos: number, t: Token, delim: string, offset: number): number {
  const start = pos + offset;
  let q = s.indexOf(delim, start);
  for (;;) {
    if (q === -1) {
      assign(t, T.string, start, s.slice(start));
      t.strOpen = offset > 0 ? delim : '';
      t.strClose = '';
      return s.length;
    }
    if (backslashEscaped(s, q, start)) {
      q = s.indexOf(delim, q + 1);
    } else if (q + 1 < s.length && s[q + 1] === delim) {
      q = s.indexOf(delim, q + 2);
    } else {
      assign(t, T.string, start, s.slice(start, q));
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
  if (pos + 2 >= s.length || s[pos + 1] !== "'") return parseWord(st);
  return parseStringCore(s, pos, st.current, "'", 2);
}

/** U&'...' (unicode string); otherwise a word. */
function parseUString(st: SqliState): number {
  const { s, pos } = st;
  if (pos + 2 < s.length && s[pos + 1] === '&' && s[pos + 2] === "'") {
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
  if (pos >= s.length || (s[pos] !== 'q' && s[pos] !== 'Q') || pos + 2 >= s.length || s[pos + 1] !== "'") {
    return parseWord(st);
  }
  const open = s.charCodeAt(pos + 2);
  if (open < 33 || open > 127) return parseWord(st);
  const close = (CLOSING[s[pos + 2]!] ?? s[pos + 2]!) + "'";
  const found = s.indexOf(close, pos + 3);
  const t = st.current;
  if (found === -1) {
    assign(t, T.string, pos + 3, s.slice(pos + 3));
    t.strOpen = 'q';
    t.strClose = '';
    return s.length;
  }
  assign(t, T.string, pos + 3, s.slice(pos + 3, found));
  t.strOpen = 'q';
  t.strClose = 'q';
  return found + 2;
}

const parseQString = (st: SqliState): number => parseQStringCore(st, 0);

/** N'...' (national string) or Nq'...'. */
function parseNqString(st: SqliState): number {
  const { s, pos } = st;
  if (pos + 2 < s.length && s[pos + 1] === "'") return parseEString(st);
  return parseQStringCore(st, 1);
}

/** b'0101' / x'4f' literals (MySQL): numbers; otherwise a word. */
function digitString(digits: Uint8Array): Handler {
  return (st) => {
    const { s, pos } = st;
    if (pos + 2 >= s.length || s[pos + 1] !== "'") return parseWord(st);
    const n = spanOf(s, pos + 2, digits);
    if (pos + 2 + n >= s.length || s[pos + 2 + n] !== "'") return parseWord(st);
    assign(st.current, T.number, pos, s.slice(pos, pos + n + 3));
    return pos + n + 3;
  };
}

const HEX_DIGITS = byteTable('0123456789ABCDEFabcdef');

/** [name] (SQL Server quoted identifier). */
function parseBWord(st: SqliState): number {
  const { s, pos } = st;
  const end = s.indexOf(']', pos);
  if (end === -1) {
    assign(st.current, T.bareword, pos, s.slice(pos));
    return s.length;
  }
  assign(st.current, T.bareword, pos, s.slice(pos, end + 1));
  return end + 1;
}

function parseWord(st: SqliState): number {
  const { s, pos } = st;
  const n = spanNotOf(s, pos, WORD_STOP);
  const t = st.current;
  assign(t, T.bareword, pos, s.slice(pos, pos + n));
  // "SELECT.1", "SELECT`col`": a keyword before '.' or '`' is a token of its own.
  for (let i = 0; i < t.val.length; i++) {
    const ch = t.val[i];
    if (ch === '.' || ch === '`') {
      const type = lookupWord(t.val.slice(0, i));
      if (type !== T.none && type !== T.bareword) {
        assign(t, type, pos, s.slice(pos, pos + i));
        return pos + i;
      }
    }
  }
  if (n < TOKEN_SIZE) t.type = lookupWord(t.val) || T.bareword;
  return pos + n;
}

/** `name` (MySQL): a bareword, or a function when the name is one. */
function parseTick(st: SqliState): number {
  const next = parseStringCore(st.s, st.pos, st.current, '`', 1);
  st.current.type = lookupWord(st.current.val) === T.func ? T.func : T.bareword;
  return next;
}

function parseVariable(st: SqliState): number {
  const { s } = st;
  let p = st.pos + 1;
  let count = 1;
  if (p < s.length && s[p] === '@') {
    p += 1;
    count = 2;
  }
  const t = st.current;
  if (p < s.length && (s[p] === '`' || s[p] === "'" || s[p] === '"')) {
    st.pos = p;
    const next = s[p] === '`' ? parseTick(st) : parseString(st);
    t.type = T.variable;
    t.count = count;
    return next;
  }
  const n = spanNotOf(s, p, VARIABLE_STOP);
  assign(t, T.variable, p, s.slice(p, p + n));
  t.count = count;
  return p + n;
}

function parseMoney(st: SqliState): number {
  const { s, pos } = st;
  const t = st.current;
  if (pos + 1 === s.length) {
    assign(t, T.bareword, pos, '$');
    return s.length;
  }
  const n = spanOf(s, pos + 1, MONEY_DIGITS);
  if (n === 1 && s[pos + 1] === '.') return parseWord(st);
  if (n > 0) {
    assign(t, T.number, pos, s.slice(pos, pos + 1 + n));
    return pos + 1 + n;
  }
  // PostgreSQL dollar quoting: $$...$$ or $tag$...$tag$.
  let tagEnd: number;
  if (s[pos + 1] === '$') tagEnd = pos + 2;
  else {
    const letters = spanOf(s, pos + 1, LETTERS);
    if (letters === 0 || pos + letters + 1 === s.length || s[pos + letters + 1] !== '$') {
      assign(t, T.bareword, pos, '$');
      return pos + 1;
    }
    tagEnd = pos + letters + 2;
  }
  const tag = s.slice(pos, tagEnd);
  const end = s.indexOf(tag, tagEnd);
  if (end === -1) {
    assign(t, T.string, tagEnd, s.slice(tagEnd));
    t.strOpen = '$';
    t.strClose = '';
    return s.length;
  }
  assign(t, T.string, tagEnd, s.slice(tagEnd, end));
  t.strOpen = '$';
  t.strClose = '$';
  return end + tag.length;
}

function parseNumber(st: SqliState): number {
  const { s } = st;
  let pos = st.pos;
  const t = st.current;
  if (s[pos] === '0' && pos + 1 < s.length) {
    const x = s[pos + 1];
    const digits = x === 'x' || x === 'X' ? HEX_DIGITS : x === 'b' || x === 'B' ? BINARY_DIGITS : undefined;
    if (digits !== undefined) {
      const n = spanOf(s, pos + 2, digits);
      assign(t, n === 0 ? T.bareword : T.number, pos, s.slice(pos, pos + 2 + n));
      return pos + 2 + n;
    }
  }
  const start = pos;
  while (pos < s.length && isDigit(s[pos])) pos++;
  if (pos < s.length && s[pos] === '.') {
    pos++;
    while (pos < s.length && isDigit(s[pos])) pos++;
    if (pos - start === 1) {
      assign(t, T.dot, start, '.');
      return pos;
    }
  }
  let haveE = false;
  let haveExp = false;
  if (pos < s.length && (s[pos] === 'e' || s[pos] === 'E')) {
    haveE = true;
    pos++;
    if (pos < s.length && (s[pos] === '+' || s[pos] === '-')) pos++;
    while (pos < s.length && isDigit(s[pos])) {
      haveExp = true;
      pos++;
    }
  }
  // Oracle's float/double suffix: 1.2f, 1f UNION; "123FROM" stays 123 then FROM.
  if (pos < s.length && 'dDfF'.includes(s[pos]!)) {
    const next = s[pos + 1];
    if (pos + 1 === s.length || isWhite(next) || next === ';' || next === 'u' || next === 'U') pos++;
  }
  assign(t, haveE && !haveExp ? T.bareword : T.number, start, s.slice(start, pos));
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
  const v = t.val;
  if (v.length === 1) return v === '+' || v === '-' || v === '!' || v === '~';
  if (v.length === 2) return v === '!!';
  return v.length === 3 && v.toUpperCase() === 'NOT';
};

const isArithmeticOperator = (t: Token): boolean =>
  t.type === T.operator && t.val.length === 1 && '*/-+%'.includes(t.val);

const MERGE_FIRST = new Set<string>([
  T.keyword,
  T.bareword,
  T.operator,
  T.union,
  T.func,
  T.expression,
  T.tsql,
  T.sqlType,
]);
const MERGE_SECOND = new Set<string>([...MERGE_FIRST, T.logicOperator]);

/** "UNION" + "ALL" → "UNION ALL" when the pair is a keyword of its own. */
function mergeWords(a: Token, b: Token): boolean {
  if (!MERGE_FIRST.has(a.type) || !MERGE_SECOND.has(b.type)) return false;
  const merged = `${a.val} ${b.val}`;
  if (merged.length >= TOKEN_SIZE) return false;
  const type = lookupWord(merged);
  if (type === T.none) return false;
  assign(a, type, a.pos, merged);
  return true;
}

// T-SQL/MySQL functions common enough as column names: a function only when followed by '('.
const FUNCTION_WHEN_CALLED = new Set([
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
]);

const oneOf = (type: string, types: ReadonlySet<string>): boolean => types.has(type);
const set = (...types: string[]): ReadonlySet<string> => new Set(types);
const AFTER_SQLTYPE = set(T.bareword, T.number, T.sqlType, T.leftParens, T.func, T.variable, T.string);
const VAR_NUM_WORD = set(T.variable, T.number, T.bareword);
const WORD_NUM = set(T.bareword, T.number);
const VALUE = set(T.bareword, T.number, T.variable, T.string);
const EXPR_GROUP_COMMA = set(T.expression, T.group, T.comma);
const KEYWORD_EXPR_GROUP = set(T.keyword, T.expression, T.group);
const VALUE_OR_FUNCTION = set(T.number, T.bareword, T.variable, T.string, T.func);

const LAST_COMMENT = newToken();

/** Tokenizes and folds; returns the number of tokens that make the fingerprint (at most 5). */
export function fold(st: SqliState): number {
  const v = st.tokens;
  const lastComment = LAST_COMMENT;
  assign(lastComment, T.none, 0, '');
  let pos = 0;
  let left = 0;
  let more = true;

  // Leading comments, '(' , SQL types and unary operators say nothing.
  st.current = v[0]!;
  while (more) {
    more = st.tokenize();
    const c = st.current;
    if (!(c.type === T.comment || c.type === T.leftParens || c.type === T.sqlType || isUnaryOperator(c))) break;
  }
  if (!more) return 0;
  pos = 1;

  const pull = (upTo: number): void => {
    while (more && pos <= MAX_TOKENS && pos - left < upTo) {
      st.current = v[pos]!;
      more = st.tokenize();
      if (more) {
        if (st.current.type === T.comment) copyToken(lastComment, st.current);
        else {
          lastComment.type = T.none;
          pos += 1;
        }
      }
    }
  };

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
    if (!more || left >= MAX_TOKENS) {
      left = pos;
      break;
    }

    pull(2);
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
    if (a.type === T.semicolon && b.type === T.func && b.val.slice(0, 2).toUpperCase() === 'IF') {
      b.type = T.tsql; // "; IF 1=1 ..." is T-SQL control flow, not the function
      continue;
    }
    if (
      (a.type === T.bareword || a.type === T.variable) &&
      b.type === T.leftParens &&
      FUNCTION_WHEN_CALLED.has(a.val.toUpperCase())
    ) {
      a.type = T.func;
      continue;
    }
    if (a.type === T.keyword && (a.val.toUpperCase() === 'IN' || a.val.toUpperCase() === 'NOT IN')) {
      a.type = b.type === T.leftParens ? T.operator : T.bareword;
      continue;
    }
    if (a.type === T.operator && (a.val.toUpperCase() === 'LIKE' || a.val.toUpperCase() === 'NOT LIKE')) {
      if (b.type === T.leftParens) a.type = T.func; // SELECT LIKE(...)
    } else if (a.type === T.sqlType && oneOf(b.type, AFTER_SQLTYPE)) {
      copyToken(a, b);
      pos -= 1;
      left = 0;
      continue;
    } else if (a.type === T.collate && b.type === T.bareword) {
      if (b.val.includes('_')) {
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
      if (b.val.length === 0) {
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

    pull(3);
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
    if (x.type === T.variable && y.type === T.operator && oneOf(z.type, VAR_NUM_WORD)) {
      pos -= 2;
      left = 0;
      continue;
    }
    if (oneOf(x.type, WORD_NUM) && y.type === T.operator && oneOf(z.type, WORD_NUM)) {
      pos -= 2;
      left = 0;
      continue;
    }
    if (oneOf(x.type, VALUE) && y.type === T.operator && y.val === '::' && z.type === T.sqlType) {
      pos -= 2;
      left = 0;
      continue;
    }
    if (oneOf(x.type, VALUE) && y.type === T.comma && oneOf(z.type, VALUE)) {
      pos -= 2;
      left = 0;
      continue;
    }
    if (oneOf(x.type, EXPR_GROUP_COMMA) && isUnaryOperator(y) && z.type === T.leftParens) {
      copyToken(y, z); // SELECT + ( → SELECT (
      pos -= 1;
      left = 0;
      continue;
    }
    if (oneOf(x.type, KEYWORD_EXPR_GROUP) && isUnaryOperator(y) && oneOf(z.type, VALUE_OR_FUNCTION)) {
      copyToken(y, z); // SELECT -1
      pos -= 1;
      left = 0;
      continue;
    }
    if (x.type === T.comma && isUnaryOperator(y) && oneOf(z.type, VALUE)) {
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
      if (x.val.toUpperCase() === 'USER') x.type = T.bareword; // USER() takes no arguments
    }
    left += 1;
  }

  if (left < MAX_TOKENS && lastComment.type === T.comment) {
    copyToken(v[left]!, lastComment);
    left += 1;
  }
  return Math.min(left, MAX_TOKENS);
}

/** The fingerprint of `s` read in one quote context and dialect; the state keeps the tokens. */
export function fingerprintOf(s: string, flags: number, st: SqliState = new SqliState(s, flags)): SqliState {
  st.reset(s, flags);
  const n = fold(st);
  const v = st.tokens;
  // PHP's magic backquote comment: an empty unclosed `...` at the end.
  if (n > 2) {
    const last = v[n - 1]!;
    if (last.type === T.bareword && last.strOpen === '`' && last.val.length === 0 && last.strClose === '') {
      last.type = T.comment;
    }
  }
  let fp = '';
  for (let i = 0; i < n; i++) fp += v[i]!.type;
  if (fp.includes(T.evil)) {
    fp = T.evil;
    assign(v[0]!, T.evil, 0, T.evil);
    v[1]!.type = T.none;
  }
  st.fingerprint = fp;
  return st;
}

/** The fingerprint is in the list, and none of the rules for ordinary text applies. */
function isSqliState(st: SqliState): boolean {
  const fp = st.fingerprint;
  if (!isSqliFingerprint(fp)) return false;
  const v = st.tokens;
  const s = st.s;
  if (fp.length > 1 && fp[fp.length - 1] === T.comment && s.includes('sp_password')) return true;
  if (fp.length === 2) {
    if (fp[1] === T.union) return st.statsTokens !== 2; // "1 union" alone is ordinary text
    if (v[1]!.val[0] === '#') return false;
    if (v[0]!.type === T.bareword && v[1]!.type === T.comment && v[1]!.val[0] !== '/') return false;
    if (v[0]!.type === T.number && v[1]!.type === T.comment) {
      if (v[1]!.val[0] === '/') return true;
      if (st.statsTokens > 2) return true;
      const after = v[0]!.val.length;
      // whitespace, a control byte or the end of the input after the number
      if (after >= s.length || s.charCodeAt(after) <= 32) return true;
      if (s[after] === '/' && s[after + 1] === '*') return true;
      if (s[after] === '-' && s[after + 1] === '-') return true;
      return false;
    }
    if (v[1]!.val.length > 2 && v[1]!.val[0] === '-') return false;
    return true;
  }
  if (fp.length === 3) {
    const upper = fp.toUpperCase();
    if (upper === 'SOS' || upper === 'S&S') {
      // ...foo" + "bar...: both strings open outwards, the same quote between them.
      return v[0]!.strOpen === '' && v[2]!.strClose === '' && v[0]!.strClose === v[2]!.strOpen;
    }
    if (['S&N', 'N&1', '1&1', '1&V', '1&S'].includes(upper)) return st.statsTokens !== 3;
    if (v[1]!.type === T.keyword) {
      const k = v[1]!.val.toUpperCase();
      return k.length >= 5 && k.startsWith('INTO');
    }
  }
  return true;
}

// One state for every detectSqli call: the event loop runs one call at a time and nothing keeps the state.
const SHARED_STATE = new SqliState('', 0);

/** Whether MySQL comment syntax was seen (then the input is parsed again in MySQL mode). */
const reparseAsMysql = (st: SqliState): boolean => st.statsCommentDdx > 0 || st.statsCommentHash > 0;

/**
 * libinjection_is_sqli: the fingerprint of the first context that is SQL injection, or undefined. Contexts: as is,
 * after a single quote, after a double quote; ANSI and, when the text uses MySQL comments, MySQL.
 */
export function detectSqli(s: string): string | undefined {
  if (s.length === 0) return undefined;
  const fingerprint = (flags: number) => fingerprintOf(s, flags, SHARED_STATE);
  let st = fingerprint(FLAG_QUOTE_NONE | FLAG_SQL_ANSI);
  if (isSqliState(st)) return st.fingerprint;
  if (reparseAsMysql(st)) {
    st = fingerprint(FLAG_QUOTE_NONE | FLAG_SQL_MYSQL);
    if (isSqliState(st)) return st.fingerprint;
  }
  if (s.includes("'")) {
    st = fingerprint(FLAG_QUOTE_SINGLE | FLAG_SQL_ANSI);
    if (isSqliState(st)) return st.fingerprint;
    if (reparseAsMysql(st)) {
      st = fingerprint(FLAG_QUOTE_SINGLE | FLAG_SQL_MYSQL);
      if (isSqliState(st)) return st.fingerprint;
    }
  }
  if (s.includes('"')) {
    st = fingerprint(FLAG_QUOTE_DOUBLE | FLAG_SQL_MYSQL);
    if (isSqliState(st)) return st.fingerprint;
  }
  return undefined;
}

export const SQLI_FLAGS = { FLAG_QUOTE_NONE, FLAG_QUOTE_SINGLE, FLAG_QUOTE_DOUBLE, FLAG_SQL_ANSI, FLAG_SQL_MYSQL };
