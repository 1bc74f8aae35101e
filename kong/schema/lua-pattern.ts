// A Lua 5.1 pattern matcher: `luaPatternFind(s, p)` answers "does `string.find(s, p)` (or `s:match(p)`)
// return non-nil?". Kong's schema validators `match`, `not_match`, `match_all`, `match_none` and `match_any`
// call `value:match(pattern)` (kong/db/schema/init.lua, Schema.validators), so patterns are Lua patterns, not regexes.
//
// This is a small backtracking matcher written after the algorithm of Lua 5.1's lstrlib.c (do_match,
// max_expand, min_expand, classEnd, matchbracketclass). It works on UTF-8 bytes, as Lua does: `.` matches one
// byte and the classes (`%a`, `%d`, ...) follow the C locale, so non-ASCII bytes belong to no class.
// Supported: anchors `^` `$`, `.`, `%a %c %d %l %p %s %u %w %x %z` and their upper-case complements, `%` escapes,
// sets `[...]` / `[^...]` with ranges and classes, quantifiers `* + - ?`, captures `(...)` and position captures
// `()`, back-references `%1`-`%9`, `%bxy` and the frontier `%f[set]`.
// A malformed pattern throws LuaPatternError with Lua 5.1's message (Lua raises an error there too).

export class LuaPatternError extends Error {
  override name = 'LuaPatternError';
}

const ESC = 0x25; // '%'
const CAP_UNFINISHED = -1;
const CAP_POSITION = -2;
const ch = (s: string): number => s.charCodeAt(0);

interface Capture {
  init: number;
  len: number;
}

const utf8 = new TextEncoder();

/** `string.find(subject, pattern) ~= nil` in Lua 5.1 (no init argument, pattern matching enabled). */
export function luaPatternFind(subject: string, pattern: string): boolean {
  return new Matcher(utf8.encode(subject), utf8.encode(pattern)).find();
}

function isAlpha(c: number): boolean {
  return (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
}
function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}
function isPunct(c: number): boolean {
  return (c >= 0x21 && c <= 0x2f) || (c >= 0x3a && c <= 0x40) || (c >= 0x5b && c <= 0x60) || (c >= 0x7b && c <= 0x7e);
}

/** `%x`-style class test, C locale (lstrlib.c match_class). */
function matchClass(c: number, cl: number): boolean {
  let res: boolean;
  switch (cl | 0x20) {
    case ch('a'):
      res = isAlpha(c);
      break;
    case ch('c'):
      res = c < 0x20 || c === 0x7f;
      break;
    case ch('d'):
      res = isDigit(c);
      break;
    case ch('l'):
      res = c >= 0x61 && c <= 0x7a;
      break;
    case ch('p'):
      res = isPunct(c);
      break;
    case ch('s'):
      res = c === 0x20 || (c >= 0x09 && c <= 0x0d);
      break;
    case ch('u'):
      res = c >= 0x41 && c <= 0x5a;
      break;
    case ch('w'):
      res = isAlpha(c) || isDigit(c);
      break;
    case ch('x'):
      res = isDigit(c) || ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x66);
      break;
    case ch('z'):
      res = c === 0;
      break;
    default:
      return cl === c; // `%.` and friends: the escaped character itself
  }
  const isUpper = cl >= 0x41 && cl <= 0x5a;
  return isUpper ? !res : res;
}

class Matcher {
  private level = 0;
  private captures: Capture[] = [];

  constructor(
    private readonly src: Uint8Array,
    private readonly pat: Uint8Array,
  ) {}

  find(): boolean {
    const anchor = this.pat[0] === ch('^');
    const p0 = anchor ? 1 : 0;
    // Lua tries every start position 0..len inclusive (an empty match at the end counts).
    for (let s = 0; ; s++) {
      this.level = 0;
      this.captures = [];
      if (this.doMatch(s, p0) !== -1) {
        this.checkCapturesClosed();
        return true;
      }
      if (anchor || s >= this.src.length) return false;
    }
  }

  /** Lua 5.1 raises "unfinished capture" when a successful match leaves a capture open. */
  private checkCapturesClosed(): void {
    for (let i = 0; i < this.level; i++) {
      if (this.captures[i].len === CAP_UNFINISHED) throw new LuaPatternError('unfinished capture');
    }
  }

  private classEnd(p: number): number {
    const pat = this.pat;
    const c = pat[p++];
    if (c === ESC) {
      if (p >= pat.length) throw new LuaPatternError("malformed pattern (ends with '%')");
      return p + 1;
    }
    if (c === ch('[')) {
      if (pat[p] === ch('^')) p++;
      // The first character after `[` or `[^` is always part of the set, so `[]]` is a set holding `]`.
      do {
        if (p >= pat.length) throw new LuaPatternError("malformed pattern (missing ']')");
        const cc = pat[p++];
        if (cc === ESC && p < pat.length) p++;
      } while (pat[p] !== ch(']'));
      return p + 1;
    }
    return p;
  }

  /** `p` points at `[`, `ec` at the closing `]`. */
  private matchBracketClass(c: number, p: number, ec: number): boolean {
    const pat = this.pat;
    let sig = true;
    if (pat[p + 1] === ch('^')) {
      sig = false;
      p++;
    }
    while (++p < ec) {
      if (pat[p] === ESC) {
        p++;
        if (matchClass(c, pat[p])) return sig;
      } else if (pat[p + 1] === ch('-') && p + 2 < ec) {
        p += 2;
        if (pat[p - 2] <= c && c <= pat[p]) return sig;
      } else if (pat[p] === c) {
        return sig;
      }
    }
    return !sig;
  }

  private singleMatch(s: number, p: number, ep: number): boolean {
    if (s >= this.src.length) return false;
    const c = this.src[s];
    switch (this.pat[p]) {
      case ch('.'):
        return true;
      case ESC:
        return matchClass(c, this.pat[p + 1]);
      case ch('['):
        return this.matchBracketClass(c, p, ep - 1);
      default:
        return this.pat[p] === c;
    }
  }

  /** Returns the end index of the match starting at `s`, or -1. */
  private doMatch(s: number, p: number): number {
    const pat = this.pat;
    for (;;) {
      if (p >= pat.length) return s;
      const pc = pat[p];
      if (pc === ch('(')) {
        return pat[p + 1] === ch(')')
          ? this.startCapture(s, p + 2, CAP_POSITION)
          : this.startCapture(s, p + 1, CAP_UNFINISHED);
      }
      if (pc === ch(')')) return this.endCapture(s, p + 1);
      if (pc === ESC && pat[p + 1] === ch('b')) {
        s = this.matchBalance(s, p + 2);
        if (s === -1) return -1;
        p += 4;
        continue;
      }
      if (pc === ESC && pat[p + 1] === ch('f')) {
        p += 2;
        if (pat[p] !== ch('[')) throw new LuaPatternError("missing '[' after '%f' in pattern");
        const ep = this.classEnd(p);
        const prev = s === 0 ? 0 : this.src[s - 1];
        const cur = s < this.src.length ? this.src[s] : 0;
        if (this.matchBracketClass(prev, p, ep - 1) || !this.matchBracketClass(cur, p, ep - 1)) return -1;
        p = ep;
        continue;
      }
      if (pc === ESC && pat[p + 1] !== undefined && isDigit(pat[p + 1])) {
        s = this.matchCapture(s, pat[p + 1]);
        if (s === -1) return -1;
        p += 2;
        continue;
      }
      if (pc === ch('$') && p + 1 === pat.length) return s === this.src.length ? s : -1;

      const ep = this.classEnd(p);
      const m = this.singleMatch(s, p, ep);
      switch (pat[ep]) {
        case ch('?'): {
          if (m) {
            const res = this.doMatch(s + 1, ep + 1);
            if (res !== -1) return res;
          }
          p = ep + 1;
          continue;
        }
        case ch('*'):
          return this.maxExpand(s, p, ep);
        case ch('+'):
          return m ? this.maxExpand(s + 1, p, ep) : -1;
        case ch('-'):
          return this.minExpand(s, p, ep);
        default:
          if (!m) return -1;
          s++;
          p = ep;
      }
    }
  }

  /** Greedy: take as many as possible, then back off one at a time. */
  private maxExpand(s: number, p: number, ep: number): number {
    let i = 0;
    while (this.singleMatch(s + i, p, ep)) i++;
    for (; i >= 0; i--) {
      const res = this.doMatch(s + i, ep + 1);
      if (res !== -1) return res;
    }
    return -1;
  }

  /** Lazy (`-`): take as few as possible, one more at a time. */
  private minExpand(s: number, p: number, ep: number): number {
    for (;;) {
      const res = this.doMatch(s, ep + 1);
      if (res !== -1) return res;
      if (!this.singleMatch(s, p, ep)) return -1;
      s++;
    }
  }

  private startCapture(s: number, p: number, what: number): number {
    this.captures[this.level] = { init: s, len: what };
    this.level++;
    const res = this.doMatch(s, p);
    if (res === -1) this.level--;
    return res;
  }

  private endCapture(s: number, p: number): number {
    let l = -1;
    for (let i = this.level - 1; i >= 0; i--) {
      if (this.captures[i].len === CAP_UNFINISHED) {
        l = i;
        break;
      }
    }
    if (l < 0) throw new LuaPatternError('invalid pattern capture');
    this.captures[l].len = s - this.captures[l].init;
    const res = this.doMatch(s, p);
    if (res === -1) this.captures[l].len = CAP_UNFINISHED;
    return res;
  }

  private matchBalance(s: number, p: number): number {
    if (p + 1 >= this.pat.length) throw new LuaPatternError('unbalanced pattern');
    if (s >= this.src.length || this.src[s] !== this.pat[p]) return -1;
    const open = this.pat[p];
    const close = this.pat[p + 1];
    let depth = 1;
    while (++s < this.src.length) {
      const c = this.src[s];
      if (c === close) {
        if (--depth === 0) return s + 1;
      } else if (c === open) {
        depth++;
      }
    }
    return -1;
  }

  private matchCapture(s: number, digit: number): number {
    const l = digit - ch('1');
    if (l < 0 || l >= this.level || this.captures[l].len === CAP_UNFINISHED) {
      throw new LuaPatternError('invalid capture index');
    }
    const { init, len } = this.captures[l];
    if (len === CAP_POSITION) throw new LuaPatternError('invalid capture index'); // undefined behaviour in C Lua
    if (this.src.length - s < len) return -1;
    for (let i = 0; i < len; i++) {
      if (this.src[init + i] !== this.src[s + i]) return -1;
    }
    return s + len;
  }
}
