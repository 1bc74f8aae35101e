// XSS detection by HTML5 tokenization, libinjection's method: the value is tokenized as a browser would, starting
// in text and inside each kind of attribute value, and is XSS when it opens a dangerous tag (script, iframe, svg,
// ...), sets an event handler (on*), a style, or a URL attribute to javascript:/vbscript:/data:/view-source:,
// or contains a doctype or a comment browsers interpret (IE conditional comments, backquotes, <!xml, <!import).
import { Html5Tokenizer, type Html5Start } from './html5';

const STARTS: readonly Html5Start[] = [
  'data',
  'value-no-quote',
  'value-single-quote',
  'value-double-quote',
  'value-back-quote',
];

/** Upper case, NUL bytes dropped (browsers ignore them in names). The regex only when there is a NUL. */
const normalName = (s: string): string => (s.includes('\0') ? s.replace(/\0/g, '') : s).toUpperCase();

const BLACK_TAGS = new Set([
  'APPLET',
  'BASE',
  'COMMENT',
  'EMBED',
  'FRAME',
  'FRAMESET',
  'HANDLER',
  'IFRAME',
  'IMPORT',
  'ISINDEX',
  'LINK',
  'LISTENER',
  'META',
  'NOSCRIPT',
  'OBJECT',
  'SCRIPT',
  'STYLE',
  'VMLFRAME',
  'XML',
  'XSS',
]);

function isBlackTag(name: string): boolean {
  const n = normalName(name);
  if (n.length < 3) return false;
  return BLACK_TAGS.has(n) || n.startsWith('SVG') || n.startsWith('XSL');
}

type AttributeKind = 'none' | 'black' | 'url' | 'style' | 'indirect';

const BLACK_ATTRIBUTES = new Map<string, AttributeKind>([
  ['ACTION', 'url'],
  ['ATTRIBUTENAME', 'indirect'],
  ['BY', 'url'],
  ['BACKGROUND', 'url'],
  ['DATAFORMATAS', 'black'],
  ['DATASRC', 'black'],
  ['DYNSRC', 'url'],
  ['FILTER', 'style'],
  ['FORMACTION', 'url'],
  ['FOLDER', 'url'],
  ['FROM', 'url'],
  ['HANDLER', 'url'],
  ['HREF', 'url'],
  ['LOWSRC', 'url'],
  ['POSTER', 'url'],
  ['SRC', 'url'],
  ['STYLE', 'style'],
  ['TO', 'url'],
  ['VALUES', 'url'],
  ['XLINK:HREF', 'url'],
]);

/** First letters of the attribute names that matter (ON*, XMLNS*, XLINK*, BLACK_ATTRIBUTES), upper case. */
const ATTRIBUTE_INITIALS = new Set(
  [...'OX', ...[...BLACK_ATTRIBUTES.keys()].map((k) => k[0]!)].map((c) => c.charCodeAt(0)),
);

function attributeKind(name: string): AttributeKind {
  // Most names (any word of a prose value read as attributes) start with another ASCII letter: no string is made.
  // A non-ASCII or NUL first char goes the full way ('ſrc' upper-cases to "SRC"; NULs are dropped).
  const first = name.charCodeAt(0);
  if (first > 0 && first < 0x80 && !ATTRIBUTE_INITIALS.has(first >= 97 && first <= 122 ? first - 32 : first)) {
    return 'none';
  }
  const n = normalName(name);
  if (n.length < 2) return 'none';
  // on* event handlers; XMLNS/XLINK can create arbitrary tags.
  if (n.length >= 5 && (n.startsWith('ON') || n.startsWith('XMLNS') || n.startsWith('XLINK'))) return 'black';
  return BLACK_ATTRIBUTES.get(n) ?? 'none';
}

/** Decodes numeric character references (&#106; &#x6a;) as browsers do in attribute values; other bytes as is. */
function decodedChars(s: string): number[] {
  const out: number[] = [];
  let i = 0;
  while (i < s.length) {
    if (s[i] === '&' && s[i + 1] === '#') {
      let j = i + 2;
      const hex = s[j] === 'x' || s[j] === 'X';
      if (hex) j++;
      let value = 0;
      const start = j;
      while (j < s.length) {
        const d = hex ? parseInt(s[j]!, 16) : s[j]! >= '0' && s[j]! <= '9' ? Number(s[j]) : NaN;
        if (Number.isNaN(d)) break;
        value = Math.min(value * (hex ? 16 : 10) + d, 0x110000);
        j++;
      }
      if (j > start) {
        if (s[j] === ';') j++;
        out.push(value);
        i = j;
        continue;
      }
    }
    out.push(s.charCodeAt(i));
    i++;
  }
  return out;
}

const BLACK_SCHEMES = ['DATA', 'VIEW-SOURCE', 'JAVA', 'VBSCRIPT'];

/** javascript:, vbscript:, data:, view-source: after leading control bytes, with entities, NULs and newlines ignored. */
function isBlackUrl(value: string): boolean {
  const chars = decodedChars(value);
  let i = 0;
  while (i < chars.length && (chars[i]! <= 32 || chars[i]! >= 127)) i++;
  let text = '';
  for (; i < chars.length && text.length < 11; i++) {
    const c = chars[i]!;
    if (c === 0 || c === 9 || c === 10 || c === 13) continue; // browsers drop these inside a scheme
    text += String.fromCharCode(c).toUpperCase();
  }
  return BLACK_SCHEMES.some((scheme) => text.startsWith(scheme));
}

function isBlackComment(text: string): boolean {
  if (text.includes('`')) return true; // IE treats backquotes as quotes in comments
  const u = text.toUpperCase();
  return u.startsWith('[IF') || u.startsWith('XML') || u.startsWith('IMPORT') || u.startsWith('ENTITY');
}

function isXssFrom(s: string, start: Html5Start): boolean {
  const tokenizer = new Html5Tokenizer(s, start);
  let attribute: AttributeKind = 'none';
  for (let token = tokenizer.next(); token !== undefined; token = tokenizer.next()) {
    switch (token.type) {
      case 'DOCTYPE':
        return true;
      case 'TAG_NAME_OPEN':
        if (isBlackTag(token.value)) return true;
        break;
      case 'ATTR_NAME':
        attribute = attributeKind(token.value);
        break;
      case 'ATTR_VALUE':
        if (attribute === 'black' || attribute === 'style') return true;
        if (attribute === 'url' && isBlackUrl(token.value)) return true;
        if (attribute === 'indirect' && attributeKind(token.value) !== 'none') return true;
        attribute = 'none';
        break;
      case 'TAG_COMMENT':
        if (isBlackComment(token.value)) return true;
        break;
      default:
        break;
    }
  }
  return false;
}

/** libinjection_xss's verdict: XSS in any of the five starting contexts. */
export function detectXss(s: string): boolean {
  if (s.length === 0) return false;
  // A value without '<', '=' , '`' or a quote cannot open a tag or set an attribute in any context.
  if (!/[<>="'`]/.test(s)) return false;
  for (let i = 0; i < STARTS.length; i++) if (isXssFrom(s, STARTS[i]!)) return true;
  return false;
}
