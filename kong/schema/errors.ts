// The schema-violation error object of kong/db/errors.lua (`_M:schema_violation`), as the Admin API returns it.
import { plPrettyWrite } from './lua-format';
import type { ErrorTable, SchemaViolation } from './types';

/**
 * Builds `{ code: 2, name: "schema violation", message, fields }`. The message follows errors.lua:
 * `@entity` errors first, then each top-level field in sorted order; a field whose errors are a table gets one
 * entry per sorted sub-key (`config.limit: expected an integer`), and a deeper table is printed with Penlight's
 * pretty.write. One entry gives "schema violation (x)", several give "N schema violations (x; y)".
 */
export function schemaViolation(errors: ErrorTable): SchemaViolation {
  const parts: string[] = [];
  const entityErrors = errors['@entity'];
  if (Array.isArray(entityErrors)) {
    for (const e of entityErrors) if (e !== null) parts.push(String(e));
  }
  for (const fieldName of Object.keys(errors).sort()) {
    if (fieldName === '@entity') continue;
    const fieldErrors = errors[fieldName];
    if (typeof fieldErrors === 'string') {
      parts.push(`${fieldName}: ${fieldErrors}`);
      continue;
    }
    for (const [subField, value] of sortedSubEntries(fieldErrors)) {
      const text = typeof value === 'string' ? value : plPrettyWrite(value);
      parts.push(`${fieldName}.${subField}: ${text}`);
    }
  }
  const message =
    parts.length === 1 ? `schema violation (${parts[0]})` : `${parts.length} schema violations (${parts.join('; ')})`;
  return { code: 2, name: 'schema violation', message, fields: errors };
}

/** Sub-entries in Lua's sorted-key order; array errors are keyed by their 1-based Lua index. */
function sortedSubEntries(tree: ErrorTable | Array<unknown>): Array<[string, unknown]> {
  if (Array.isArray(tree)) {
    const out: Array<[string, unknown]> = [];
    tree.forEach((v, i) => {
      if (v !== null && v !== undefined) out.push([String(i + 1), v]);
    });
    return out;
  }
  return Object.keys(tree)
    .sort()
    .map((k) => [k, tree[k]]);
}
