// How Lua (LuaJIT, as in Kong) turns values into text, for reproducing Kong's error messages:
// `tostring`, `string.format("%q")` and Penlight's `pretty.write` (used by kong/db/errors.lua schema_violation
// to print nested error tables).

/** Lua's `tostring(number)`: the C format "%.14g". */
export function luaNumberToString(n: number): string {
  if (Number.isNaN(n)) return 'nan';
  if (n === Infinity) return 'inf';
  if (n === -Infinity) return '-inf';
  if (n === 0) return Object.is(n, -0) ? '-0' : '0';
  const [mantissa, expText] = n.toExponential(13).split('e');
  const exp = Number(expText);
  if (exp < -4 || exp >= 14) {
    const m = mantissa.includes('.') ? mantissa.replace(/0+$/, '').replace(/\.$/, '') : mantissa;
    const sign = exp < 0 ? '-' : '+';
    return `${m}e${sign}${String(Math.abs(exp)).padStart(2, '0')}`;
  }
  const fixed = n.toFixed(Math.max(0, 13 - exp));
  return fixed.includes('.') ? fixed.replace(/0+$/, '').replace(/\.$/, '') : fixed;
}

/** Lua's `tostring(v)` for JSON-decoded values (`null` is ngx.null, a userdata). */
export function luaToString(v: unknown): string {
  if (v === undefined) return 'nil';
  if (v === null) return 'userdata: NULL';
  if (typeof v === 'number') return luaNumberToString(v);
  if (typeof v === 'string') return v;
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  return 'table: 0x00000000';
}

/** `string.format("%q", s)` in Lua 5.1. */
export function luaQuote(s: string): string {
  let out = '"';
  for (const c of s) {
    if (c === '"' || c === '\\') out += '\\' + c;
    else if (c === '\n') out += '\\\n';
    else if (c === '\r') out += '\\r';
    else if (c === '\0') out += '\\000';
    else out += c;
  }
  return out + '"';
}

const LUA_KEYWORDS = new Set([
  'and',
  'break',
  'do',
  'else',
  'elseif',
  'end',
  'false',
  'for',
  'function',
  'goto',
  'if',
  'in',
  'local',
  'nil',
  'not',
  'or',
  'repeat',
  'return',
  'then',
  'true',
  'until',
  'while',
]);

function isIdentifier(key: string): boolean {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(key) && !LUA_KEYWORDS.has(key);
}

/**
 * Penlight `pretty.write(t)` with the default two-space indent. The table is given in its JS form: a JS array
 * stands for a Lua sequence whose `null` entries are holes (nil), so `[null, "x"]` is `{ [2] = "x" }`.
 * Lua prints hash keys in `pairs` order, which is unspecified; here they come sorted so output is stable.
 */
export function plPrettyWrite(value: unknown): string {
  const lines: string[] = [];
  const write = (v: unknown, indent: string, prefix: string): void => {
    if (v !== null && typeof v === 'object') {
      lines.push(prefix + '{');
      const inner = indent + '  ';
      const entries = luaTableEntries(v);
      // The array part (1..n without holes) is written without keys, the rest as `key = value`.
      let i = 1;
      while (entries.length > 0 && entries[0][0] === i) {
        write(entries.shift()![1], inner, inner);
        i++;
      }
      for (const [key, val] of entries) {
        const k = typeof key === 'number' ? `[${key}]` : isIdentifier(key) ? key : `[${luaQuote(key)}]`;
        write(val, inner, `${inner}${k} = `);
      }
      if (lines[lines.length - 1].endsWith(',')) lines[lines.length - 1] = lines[lines.length - 1].slice(0, -1);
      lines.push(indent + '},');
      return;
    }
    lines.push(prefix + (typeof v === 'string' ? luaQuote(v) : luaToString(v)) + ',');
  };
  write(value, '', '');
  const last = lines.length - 1;
  if (lines[last].endsWith(',')) lines[last] = lines[last].slice(0, -1);
  return lines.join('\n');
}

/** Entries of a JS value seen as a Lua table: array indices become 1-based numbers, holes are skipped. */
function luaTableEntries(v: object): Array<[number | string, unknown]> {
  if (Array.isArray(v)) {
    const out: Array<[number, unknown]> = [];
    v.forEach((item, idx) => {
      if (item !== null && item !== undefined) out.push([idx + 1, item]);
    });
    return out;
  }
  return Object.keys(v)
    .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
    .sort()
    .map((k) => [k, (v as Record<string, unknown>)[k]]);
}
