// Reads ModSecurity rule files (the SecRule language the OWASP Core Rule Set is written in) into plain data:
// directives with their variables, operator and actions, chains joined. No semantics here (compile.ts decides
// what Bulwark can run); only the syntax ModSecurity's configuration reader accepts for these files:
// backslash-newline continuations, double-quoted arguments where only `\"` is an escape (Apache's
// ap_getword_conf/substring_conf), and comma-separated actions whose values may be single-quoted.

export interface SecAction {
  name: string;
  /** The value after `:`, quotes removed; '' when the action has none. */
  value: string;
}

export interface SecRuleLink {
  /** The raw variable list, e.g. `ARGS|!ARGS:foo|REQUEST_HEADERS:User-Agent`. */
  variables: string;
  /** The raw operator, e.g. `@rx (?i)foo`, `!@pm a b`; a bare string means `@rx`. */
  operator: string;
  actions: SecAction[];
}

export interface ParsedSecRule {
  /** Where the first link starts (file:line), for messages. */
  source: string;
  /** The first link carries the rule's metadata; further links come from `chain`. */
  links: SecRuleLink[];
}

/** Split a file into logical lines (continuations joined), with the line number each starts on. */
function logicalLines(text: string): { line: number; text: string }[] {
  const out: { line: number; text: string }[] = [];
  const physical = text.split(/\r?\n/);
  let current = '';
  let start = 0;
  for (let i = 0; i < physical.length; i++) {
    const line = physical[i]!;
    if (current === '') start = i + 1;
    if (line.endsWith('\\')) {
      current += line.slice(0, -1);
      continue;
    }
    current += line;
    if (current.trim() !== '') out.push({ line: start, text: current });
    current = '';
  }
  if (current.trim() !== '') out.push({ line: start, text: current });
  return out;
}

/** Words of a directive line: bare words, or double-quoted with `\"` unescaped (nothing else is). */
export function directiveWords(line: string): string[] {
  const words: string[] = [];
  let i = 0;
  while (i < line.length) {
    while (i < line.length && (line[i] === ' ' || line[i] === '\t')) i++;
    if (i >= line.length) break;
    if (line[i] === '"') {
      let word = '';
      i++;
      while (i < line.length && line[i] !== '"') {
        if (line[i] === '\\' && line[i + 1] === '"') {
          word += '"';
          i += 2;
        } else {
          word += line[i];
          i++;
        }
      }
      if (i >= line.length) throw new SyntaxError('unterminated double-quoted argument');
      i++;
      words.push(word);
    } else {
      let word = '';
      while (i < line.length && line[i] !== ' ' && line[i] !== '\t') word += line[i++];
      words.push(word);
    }
  }
  return words;
}

/** `id:1,msg:'a, b',t:none` → actions; single quotes group, `\'` inside them is a quote. */
export function parseActions(text: string): SecAction[] {
  const actions: SecAction[] = [];
  let i = 0;
  while (i < text.length) {
    while (i < text.length && (text[i] === ' ' || text[i] === '\t' || text[i] === ',')) i++;
    if (i >= text.length) break;
    let name = '';
    while (i < text.length && text[i] !== ':' && text[i] !== ',') name += text[i++];
    let value = '';
    if (text[i] === ':') {
      i++;
      while (i < text.length && (text[i] === ' ' || text[i] === '\t')) i++;
      if (text[i] === "'") {
        i++;
        while (i < text.length && text[i] !== "'") {
          if (text[i] === '\\' && text[i + 1] === "'") {
            value += "'";
            i += 2;
          } else value += text[i++];
        }
        if (i >= text.length) throw new SyntaxError(`unterminated quoted value of action ${name.trim()}`);
        i++;
      } else {
        while (i < text.length && text[i] !== ',') value += text[i++];
        value = value.trim();
      }
    }
    actions.push({ name: name.trim(), value });
  }
  return actions;
}

/** Parse the SecRule directives of one file; other directives (SecAction, SecMarker, …) are not rules. */
export function parseSecRules(text: string, fileName: string): ParsedSecRule[] {
  const rules: ParsedSecRule[] = [];
  let open: ParsedSecRule | undefined;
  for (const { line, text: logical } of logicalLines(text)) {
    const trimmed = logical.trim();
    if (trimmed.startsWith('#')) continue;
    let words: string[];
    try {
      words = directiveWords(trimmed);
    } catch (err) {
      throw new SyntaxError(`${fileName}:${line}: ${(err as Error).message}`, { cause: err });
    }
    const directive = words[0]!;
    if (directive.toLowerCase() !== 'secrule') {
      open = undefined;
      continue;
    }
    if (words.length < 3 || words.length > 4)
      throw new SyntaxError(`${fileName}:${line}: SecRule needs 2 or 3 arguments`);
    const link: SecRuleLink = { variables: words[1]!, operator: words[2]!, actions: parseActions(words[3] ?? '') };
    if (open !== undefined) open.links.push(link);
    else {
      open = { source: `${fileName}:${line}`, links: [link] };
      rules.push(open);
    }
    if (!link.actions.some((a) => a.name === 'chain')) open = undefined;
  }
  return rules;
}
