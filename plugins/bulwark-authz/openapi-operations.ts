// The operations of an OpenAPI document for bulwark-authz: operationId → method + full path template (server
// base path + path), read with bulwark-validator's document loader (spec-source.ts) and base-path rules
// (path-router.ts), so both plugins see the same operations. Only `servers` and `paths` are read: authz needs
// no schema compilation.
import { ConfigError } from '../lib/config';
import { serverBasePath } from '../bulwark-validator/path-router';
import { parseSpecText, readSpecFile } from '../bulwark-validator/spec-source';

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;

export interface DocumentOperation {
  method: string;
  template: string;
  operationId: string | undefined;
}

export interface DocumentOperations {
  byId: Map<string, DocumentOperation[]>;
  /** `METHOD template` of every operation (to refuse a rule whose template the document does not define). */
  keys: Set<string>;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function basePaths(servers: unknown): string[] {
  if (!Array.isArray(servers) || servers.length === 0) return [''];
  const out = new Set<string>();
  for (const s of servers) if (isRecord(s) && typeof s.url === 'string') out.add(serverBasePath(s.url));
  return out.size === 0 ? [''] : [...out];
}

export function loadDocumentOperations(
  spec: string | undefined,
  specFile: string | undefined,
  field: string,
): DocumentOperations {
  const doc =
    specFile !== undefined ? readSpecFile(specFile, `${field}.spec_file`) : parseSpecText(spec ?? '', `${field}.spec`);
  if (!isRecord(doc) || (typeof doc.openapi !== 'string' && typeof doc.swagger !== 'string')) {
    throw new ConfigError(field, 'not an OpenAPI document (no "openapi" version field)');
  }
  if (!isRecord(doc.paths)) throw new ConfigError(`${field}.spec`, 'the document has no paths');
  const rootBases = basePaths(doc.servers);
  const byId = new Map<string, DocumentOperation[]>();
  const keys = new Set<string>();
  for (const [path, item] of Object.entries(doc.paths)) {
    if (!isRecord(item) || !path.startsWith('/')) continue;
    const pathBases = item.servers !== undefined ? basePaths(item.servers) : rootBases;
    for (const method of METHODS) {
      const op = item[method];
      if (!isRecord(op)) continue;
      const bases = op.servers !== undefined ? basePaths(op.servers) : pathBases;
      const operationId = typeof op.operationId === 'string' ? op.operationId : undefined;
      for (const base of bases) {
        const template = base + path;
        const entry = { method: method.toUpperCase(), template, operationId };
        keys.add(`${entry.method} ${template}`);
        if (operationId !== undefined) byId.set(operationId, [...(byId.get(operationId) ?? []), entry]);
      }
    }
  }
  return { byId, keys };
}
