// REFERENCE COPY, not shipped: plugins/bulwark-threat-protection/libinjection/html5.ts as it was on main 5abc7f6, before
// the detectors were rewritten for speed. Frozen as the oracle: spec/plugins/bulwark-threat-protection/
// libinjection-equivalence.test.ts checks that the shipped detectors give exactly its verdicts and fingerprints, and
// scripts/bench/libinjection.ts measures both in one run. Do not optimise or fix it here; change the shipped one.
//
// An HTML5 tokenizer after the WHATWG tokenization states, reduced to what XSS detection needs (libinjection's
// method): tag names, attribute names and values, comments, doctype, text. It can start inside an attribute value
// (unquoted, '…', "…", `…`) as well as in text, since a reflected value may land in any of them. Linear: every
// state consumes the bytes it scans. Input is a byte string (one char per byte).

export type Html5TokenType =
  | 'DATA_TEXT'
  | 'TAG_NAME_OPEN'
  | 'TAG_NAME_CLOSE'
  | 'TAG_NAME_SELFCLOSE'
  | 'TAG_DATA'
  | 'TAG_CLOSE'
  | 'ATTR_NAME'
  | 'ATTR_VALUE'
  | 'TAG_COMMENT'
  | 'DOCTYPE';

export interface Html5Token {
  type: Html5TokenType;
  value: string;
}

/** Where the input starts: in text, or inside an attribute value of each quoting. */
export type Html5Start = 'data' | 'value-no-quote' | 'value-single-quote' | 'value-double-quote' | 'value-back-quote';

type State = (t: Html5Tokenizer) => Html5Token | undefined;

// HTML whitespace as browsers treat it between attributes (NUL included, as libinjection does).
const isSpace = (ch: string | undefined): boolean =>
  ch === ' ' || ch === '\t' || ch === '\n' || ch === '\v' || ch === '\f' || ch === '\r' || ch === '\0';
const isAlpha = (ch: string | undefined): boolean =>
  ch !== undefined && ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z'));

export class Html5Tokenizer {
  pos = 0;
  private state: State;
  constructor(
    readonly s: string,
    start: Html5Start = 'data',
  ) {
    this.state =
      start === 'data'
        ? stateData
        : start === 'value-no-quote'
          ? stateBeforeAttributeName // the unquoted value ended at the first space: attributes follow
          : start === 'value-single-quote'
            ? quotedValue("'")
            : start === 'value-double-quote'
              ? quotedValue('"')
              : quotedValue('`');
  }

  next(): Html5Token | undefined {
    while (this.pos <= this.s.length) {
      const state = this.state;
      const token = state(this);
      if (token !== undefined) return token;
      if (this.state === state && this.pos >= this.s.length) return undefined;
    }
    return undefined;
  }

  go(state: State): void {
    this.state = state;
  }
}

function stateEof(t: Html5Tokenizer): undefined {
  t.pos = t.s.length + 1;
  return undefined;
}

function stateData(t: Html5Tokenizer): Html5Token | undefined {
  const { s, pos } = t;
  if (pos >= s.length) return stateEof(t);
  const lt = s.indexOf('<', pos);
  if (lt === -1) {
    t.pos = s.length;
    t.go(stateEof);
    return { type: 'DATA_TEXT', value: s.slice(pos) };
  }
  t.pos = lt + 1;
  t.go(stateTagOpen);
  return lt > pos ? { type: 'DATA_TEXT', value: s.slice(pos, lt) } : undefined;
}

function stateTagOpen(t: Html5Tokenizer): Html5Token | undefined {
  const { s, pos } = t;
  if (pos >= s.length) {
    t.go(stateEof);
    return { type: 'DATA_TEXT', value: '<' };
  }
  const ch = s[pos]!;
  if (ch === '!') {
    t.pos = pos + 1;
    t.go(stateMarkupDeclaration);
    return undefined;
  }
  if (ch === '/') {
    t.pos = pos + 1;
    t.go(stateEndTagOpen);
    return undefined;
  }
  if (ch === '?') {
    t.pos = pos + 1;
    t.go(stateBogusComment);
    return undefined;
  }
  if (ch === '%') {
    t.pos = pos + 1;
    t.go(stateBogusComment2);
    return undefined;
  }
  if (isAlpha(ch) || ch === '\0') {
    t.go(stateTagName);
    return undefined;
  }
  // '<' followed by anything else is text.
  t.go(stateData);
  return { type: 'DATA_TEXT', value: '<' };
}

function stateEndTagOpen(t: Html5Tokenizer): Html5Token | undefined {
  const { s, pos } = t;
  if (pos >= s.length) {
    t.go(stateEof);
    return { type: 'DATA_TEXT', value: '</' };
  }
  if (s[pos] === '>') {
    t.pos = pos + 1;
    t.go(stateData);
    return undefined;
  }
  if (!isAlpha(s[pos])) {
    t.go(stateBogusComment);
    return undefined;
  }
  let i = pos;
  while (i < s.length && !isSpace(s[i]) && s[i] !== '/' && s[i] !== '>') i++;
  t.pos = i;
  // Only "</name>" is a close tag token; "</name attr...>" reads on as a tag (libinjection's TAG_NAME_OPEN).
  const closed = i < s.length && s[i] === '>';
  t.go(closed ? stateTagCloseAfterEnd : stateBeforeAttributeName);
  return { type: closed ? 'TAG_CLOSE' : 'TAG_NAME_OPEN', value: s.slice(pos, i) };
}

function stateTagCloseAfterEnd(t: Html5Tokenizer): Html5Token | undefined {
  t.pos += 1;
  t.go(stateData);
  return undefined;
}

function stateTagName(t: Html5Tokenizer): Html5Token | undefined {
  const { s, pos } = t;
  let i = pos;
  // NUL bytes inside a tag name are kept (old browsers ignore them: <scr\0ipt>); xss.ts drops them.
  while (i < s.length && (s[i] === '\0' || (!isSpace(s[i]) && s[i] !== '/' && s[i] !== '>'))) i++;
  t.pos = i;
  t.go(stateBeforeAttributeName);
  return { type: 'TAG_NAME_OPEN', value: s.slice(pos, i) };
}

function stateBeforeAttributeName(t: Html5Tokenizer): Html5Token | undefined {
  const { s } = t;
  let i = t.pos;
  while (i < s.length && isSpace(s[i])) i++;
  t.pos = i;
  if (i >= s.length) return stateEof(t);
  if (s[i] === '/') {
    t.pos = i + 1;
    t.go(stateSelfClosing);
    return undefined;
  }
  if (s[i] === '>') {
    t.pos = i + 1;
    t.go(stateData);
    return { type: 'TAG_NAME_CLOSE', value: '>' };
  }
  t.go(stateAttributeName);
  return undefined;
}

function stateSelfClosing(t: Html5Tokenizer): Html5Token | undefined {
  const { s, pos } = t;
  if (pos >= s.length) return stateEof(t);
  if (s[pos] === '>') {
    t.pos = pos + 1;
    t.go(stateData);
    return { type: 'TAG_NAME_SELFCLOSE', value: '/>' };
  }
  t.go(stateBeforeAttributeName);
  return undefined;
}

function stateAttributeName(t: Html5Tokenizer): Html5Token | undefined {
  const { s, pos } = t;
  // The first byte is part of the name even if it is '=' (WHATWG: unexpected-equals-sign-before-attribute-name).
  let i = pos + 1;
  while (i < s.length && !isSpace(s[i]) && s[i] !== '/' && s[i] !== '>' && s[i] !== '=') i++;
  t.pos = i;
  t.go(stateAfterAttributeName);
  return { type: 'ATTR_NAME', value: s.slice(pos, i) };
}

function stateAfterAttributeName(t: Html5Tokenizer): Html5Token | undefined {
  const { s } = t;
  let i = t.pos;
  while (i < s.length && isSpace(s[i])) i++;
  t.pos = i;
  if (i >= s.length) return stateEof(t);
  if (s[i] === '=') {
    t.pos = i + 1;
    t.go(stateBeforeAttributeValue);
    return undefined;
  }
  t.go(stateBeforeAttributeName);
  return undefined;
}

function stateBeforeAttributeValue(t: Html5Tokenizer): Html5Token | undefined {
  const { s } = t;
  let i = t.pos;
  while (i < s.length && isSpace(s[i])) i++;
  t.pos = i;
  if (i >= s.length) return stateEof(t);
  const ch = s[i]!;
  if (ch === '"' || ch === "'" || ch === '`') {
    t.pos = i + 1;
    t.go(quotedValue(ch));
    return undefined;
  }
  let j = i;
  while (j < s.length && !isSpace(s[j]) && s[j] !== '>') j++;
  t.pos = j;
  t.go(stateBeforeAttributeName);
  return { type: 'ATTR_VALUE', value: s.slice(i, j) };
}

const quotedStates = new Map<string, State>();
function quotedValue(quote: string): State {
  let state = quotedStates.get(quote);
  if (state === undefined) {
    state = (t) => {
      const { s, pos } = t;
      const end = s.indexOf(quote, pos);
      if (end === -1) {
        t.pos = s.length;
        t.go(stateEof);
        return { type: 'ATTR_VALUE', value: s.slice(pos) };
      }
      t.pos = end + 1;
      t.go(stateBeforeAttributeName);
      return { type: 'ATTR_VALUE', value: s.slice(pos, end) };
    };
    quotedStates.set(quote, state);
  }
  return state;
}

function stateMarkupDeclaration(t: Html5Tokenizer): Html5Token | undefined {
  const { s, pos } = t;
  if (s.startsWith('--', pos)) {
    t.pos = pos + 2;
    t.go(stateComment);
    return undefined;
  }
  if (s.slice(pos, pos + 7).toUpperCase() === 'DOCTYPE') {
    t.go(stateDoctype);
    return undefined;
  }
  if (s.startsWith('[CDATA[', pos)) {
    t.pos = pos + 7;
    t.go(stateCdata);
    return undefined;
  }
  t.go(stateBogusComment);
  return undefined;
}

/** <!-- ... -->: ends at "-->", "--!>" or the end of the input. */
function stateComment(t: Html5Tokenizer): Html5Token | undefined {
  const { s, pos } = t;
  let i = pos;
  for (;;) {
    const dash = s.indexOf('--', i);
    if (dash === -1) {
      t.pos = s.length;
      t.go(stateEof);
      return { type: 'TAG_COMMENT', value: s.slice(pos) };
    }
    let j = dash + 2;
    if (s[j] === '!') j++;
    if (s[j] === '>') {
      t.pos = j + 1;
      t.go(stateData);
      return { type: 'TAG_COMMENT', value: s.slice(pos, dash) };
    }
    i = dash + 1;
  }
}

function untilGt(t: Html5Tokenizer, type: Html5TokenType, from: number): Html5Token {
  const { s } = t;
  const end = s.indexOf('>', from);
  if (end === -1) {
    t.pos = s.length;
    t.go(stateEof);
    return { type, value: s.slice(from) };
  }
  t.pos = end + 1;
  t.go(stateData);
  return { type, value: s.slice(from, end) };
}

const stateBogusComment = (t: Html5Tokenizer): Html5Token => untilGt(t, 'TAG_COMMENT', t.pos);
const stateDoctype = (t: Html5Tokenizer): Html5Token => untilGt(t, 'DOCTYPE', t.pos);

/** <% ... %> (old IE/Safari comments). */
function stateBogusComment2(t: Html5Tokenizer): Html5Token {
  const { s, pos } = t;
  const end = s.indexOf('%>', pos);
  if (end === -1) {
    t.pos = s.length;
    t.go(stateEof);
    return { type: 'TAG_COMMENT', value: s.slice(pos) };
  }
  t.pos = end + 2;
  t.go(stateData);
  return { type: 'TAG_COMMENT', value: s.slice(pos, end) };
}

function stateCdata(t: Html5Tokenizer): Html5Token | undefined {
  const { s, pos } = t;
  const end = s.indexOf(']]>', pos);
  if (end === -1) {
    t.pos = s.length;
    t.go(stateEof);
    return { type: 'DATA_TEXT', value: s.slice(pos) };
  }
  t.pos = end + 3;
  t.go(stateData);
  return { type: 'DATA_TEXT', value: s.slice(pos, end) };
}
