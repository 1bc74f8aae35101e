// Reading a schema or OpenAPI document given inline (JSON or YAML text) or as a file path, once, at instance
// start. Errors name the config field. Shared by every plugin that reads the API's document (bulwark-validator,
// bulwark-docs, bulwark-authz), so that they all read the same bytes the same way.
import * as fs from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { ConfigError } from './config';

/** Documents larger than this are refused (they are parsed and compiled in the plugin server's event loop). */
export const MAX_SPEC_BYTES = 16 * 1024 * 1024;
/**
 * YAML parses about 35× slower than JSON.parse (GitHub's document as YAML, 10 MB: ~5.6 s on an idle core, 46 s on a
 * loaded one, against 0.16 s / 1.3 s as JSON), so a 16 MB YAML document could alone exceed Kong's 10 s instance
 * start, after which Kong skips the plugin (fail-open). Larger documents must be JSON.
 */
export const MAX_YAML_SPEC_BYTES = 1024 * 1024;
/** `openapi.precompile: true` compiles every operation at start (~14× JSON.parse): only for documents up to this. */
export const MAX_PRECOMPILE_SPEC_BYTES = 2 * 1024 * 1024;

/** JSON or YAML text → value. YAML anchors/aliases are bounded (billion-laughs) and duplicate keys refused. */
export function parseSpecText(text: string, field: string): unknown {
  if (text.length > MAX_SPEC_BYTES) throw new ConfigError(field, `document larger than ${MAX_SPEC_BYTES} bytes`);
  const trimmed = text.trimStart();
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      // Not strict JSON: YAML (a superset) may still read it, e.g. a flow mapping with comments.
    }
  }
  if (text.length > MAX_YAML_SPEC_BYTES) {
    throw new ConfigError(
      field,
      `not JSON, and a YAML document may have at most ${MAX_YAML_SPEC_BYTES} bytes (YAML parses ~35× slower than JSON; ` +
        'convert it, e.g. yq -o=json)',
    );
  }
  try {
    return parseYaml(text, { maxAliasCount: 100, uniqueKeys: true, prettyErrors: false }) as unknown;
  } catch (err) {
    const message = err instanceof Error ? err.message.split('\n')[0] : String(err);
    throw new ConfigError(field, `not valid JSON or YAML: ${message}`);
  }
}

export function readSpecFile(path: string, field: string): unknown {
  let text: string;
  try {
    const stat = fs.statSync(path);
    if (!stat.isFile()) throw new ConfigError(field, `not a regular file: ${path}`);
    if (stat.size > MAX_SPEC_BYTES) throw new ConfigError(field, `document larger than ${MAX_SPEC_BYTES} bytes`);
    text = fs.readFileSync(path, 'utf8');
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError(field, `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  return parseSpecText(text, field);
}

/**
 * The document of an `openapi` config record (`spec` inline or `spec_file`), as bulwark-validator reads it; errors
 * name `<record>.spec` or `<record>.spec_file`. Exactly one of the two must be set (the caller checks).
 */
export function readOpenApiSource(
  source: { spec?: string | undefined; spec_file?: string | undefined },
  record: string,
): { doc: unknown; field: string } {
  const field = source.spec !== undefined ? `${record}.spec` : `${record}.spec_file`;
  const doc = source.spec !== undefined ? parseSpecText(source.spec, field) : readSpecFile(source.spec_file!, field);
  return { doc, field };
}
