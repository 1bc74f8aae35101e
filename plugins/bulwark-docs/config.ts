// bulwark-docs' config: the declared fields (schema.ts) → the published document, redacted once per instance.
// The document is read with bulwark-validator's loader (lib/openapi-source.ts): same size limits, YAML bounds and
// errors naming the field. Redacted documents are cached per process by config text (and the file's size and
// mtime), as bulwark-validator caches its compiled documents: Kong starts the same config once per worker.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import { ConfigError } from '../lib/config';
import { readConfig } from '../lib/fields';
import { readOpenApiSource } from '../lib/openapi-source';
import { compileRules } from '../bulwark-authz/config';
import { loadDocumentOperations } from '../bulwark-authz/openapi-operations';
import { operationTemplates } from './filter';
import { DocumentPublisher, type AuthzFilter, type FilterMode } from './publish';
import { isObject, redactDocument, type JsonObject } from './redact';
import { uiAssets, type Asset } from './page';
import { ConfigFields } from './schema';

export interface DocsConfig {
  /** The page path; the document is at `${path}/openapi.json`, the UI files under `${path}/assets/`. */
  path: string;
  title: string;
  tryIt: boolean;
  publisher: DocumentPublisher;
  assets: ReadonlyMap<string, Asset>;
}

const REDACTED_CACHE_SIZE = 8;
interface Prepared {
  doc: JsonObject;
  /** Each operation's full path templates, from the document before redaction (its servers as clients call it). */
  templates: Map<string, string[]>;
}
type CacheEntry = { ok: true; value: Prepared } | { ok: false; error: unknown };
const redactedCache = new Map<string, CacheEntry>();

function cacheKey(parts: unknown[]): string {
  // md5: a cache key over operator-supplied config, not a security boundary.
  return crypto.createHash('md5').update(JSON.stringify(parts)).digest('base64');
}

function fileStamp(file: string | undefined): string {
  if (file === undefined) return '';
  try {
    const st = fs.statSync(file);
    return `${st.size}:${st.mtimeMs}`;
  } catch {
    return 'missing';
  }
}

function redacted(key: string, build: () => Prepared): Prepared {
  let entry = redactedCache.get(key);
  if (entry !== undefined) redactedCache.delete(key);
  else {
    try {
      entry = { ok: true, value: build() };
    } catch (error) {
      entry = { ok: false, error };
    }
  }
  redactedCache.set(key, entry);
  if (redactedCache.size > REDACTED_CACHE_SIZE) redactedCache.delete(redactedCache.keys().next().value as string);
  if (!entry.ok) throw entry.error;
  return entry.value;
}

export function parseDocsConfig(raw: unknown): DocsConfig {
  const conf = readConfig(ConfigFields, raw);
  const { spec, spec_file: specFile } = conf.openapi;
  if (spec !== undefined && specFile !== undefined)
    throw new ConfigError('openapi.spec', 'set spec or spec_file, not both');
  if (spec === undefined && specFile === undefined) throw new ConfigError('openapi.spec', 'set spec or spec_file');
  const options = {
    publicBaseUrl: conf.public_base_url,
    removeExtensions: [...conf.remove_extensions],
    apiKeyPrefixes: [...conf.api_key_prefixes],
  };
  const key = cacheKey([spec ?? null, specFile ?? null, fileStamp(specFile), options]);
  const { doc, templates } = redacted(key, () => {
    const { doc: source, field } = readOpenApiSource({ spec, spec_file: specFile }, 'openapi');
    if (!isObject(source) || typeof source.openapi !== 'string' || !/^3\.[01]\./.test(source.openapi)) {
      throw new ConfigError(field, 'not an OpenAPI 3.0 or 3.1 document (no "openapi": "3.x.y" field)');
    }
    if (!isObject(source.paths) && !isObject(source.webhooks))
      throw new ConfigError(field, 'the document has no paths');
    return { doc: redactDocument(source, options), templates: operationTemplates(source) };
  });
  let authz: AuthzFilter | undefined;
  if (conf.filter === 'authz') {
    if (conf.authz.rules.length === 0)
      throw new ConfigError('authz.rules', "filter authz needs the route's bulwark-authz rules");
    try {
      // Compiled by bulwark-authz itself; operation_id rules are resolved in this plugin's document, and path rules
      // may name paths it does not publish (the docs paths themselves, internal operations).
      const docs = loadDocumentOperations(spec, specFile, 'openapi');
      const rules = compileRules(conf.authz.rules, docs, { templatesInDocument: false });
      authz = { rules, templates, conditional: conf.authz.conditional };
    } catch (err) {
      if (err instanceof ConfigError && err.field.startsWith('rules'))
        throw new ConfigError(`authz.${err.field}`, err.reason);
      throw err;
    }
  }
  const info = isObject(doc.info) ? doc.info : {};
  return {
    path: conf.path,
    title: typeof info.title === 'string' ? info.title.slice(0, 200) : 'API documentation',
    tryIt: conf.try_it,
    publisher: new DocumentPublisher(doc, conf.filter as FilterMode, authz),
    assets: uiAssets(),
  };
}
