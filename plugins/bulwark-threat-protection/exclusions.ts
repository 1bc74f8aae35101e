// The `exclusions` field → the engine's exclusions. Checked at instance start (config.ts, so a bad one is refused
// with its field named) and built again in the engine thread (engine-worker.ts), since compiled RE2 key matchers
// cannot be posted to a thread.
import { RE2JS } from 're2js';
import { ConfigError } from '../lib/config';
import type { Target } from './crs/compile';
import type { Exclusion } from './crs/engine';
import { COLLECTION_ALIASES, COLLECTIONS, type Collection } from './crs/model';

/** One element of the `exclusions` field, as declared (plain data: it crosses to the engine thread). */
export interface DeclaredExclusion {
  rule_ids?: number[];
  targets?: string[];
}

/** `ARGS:q` / `REQUEST_COOKIES:/^_ga/` / `REQUEST_FILENAME` → targets (ARGS expands to GET and POST). */
export function parseTarget(text: string, field: string): Target[] {
  const colon = text.indexOf(':');
  const name = (colon === -1 ? text : text.slice(0, colon)).toUpperCase();
  const key = colon === -1 ? undefined : text.slice(colon + 1);
  const collections: readonly Collection[] | undefined =
    COLLECTION_ALIASES[name] ?? ((COLLECTIONS as readonly string[]).includes(name) ? [name as Collection] : undefined);
  if (collections === undefined) throw new ConfigError(field, `unknown variable ${name}`);
  if (key === '') throw new ConfigError(field, 'empty key after ":"');
  let compiledKey: string | RE2JS | undefined;
  if (key !== undefined && key.length >= 2 && key.startsWith('/') && key.endsWith('/')) {
    try {
      compiledKey = RE2JS.compile(key.slice(1, -1), RE2JS.CASE_INSENSITIVE);
    } catch (err) {
      throw new ConfigError(field, `key regex does not compile: ${(err as Error).message}`);
    }
  } else compiledKey = key?.toLowerCase();
  return collections.map((collection) =>
    compiledKey === undefined ? { collection } : { collection, key: compiledKey },
  );
}

/** The declared exclusions as the engine takes them; a bad one is refused with its field named. */
export function buildExclusions(declared: readonly DeclaredExclusion[]): Exclusion[] {
  return declared.map((element, i) => {
    const field = `exclusions[${i}]`;
    if (element.rule_ids === undefined && element.targets === undefined) {
      throw new ConfigError(field, 'needs rule_ids, targets or both');
    }
    return {
      ruleIds: element.rule_ids === undefined ? undefined : new Set(element.rule_ids),
      targets: element.targets?.flatMap((t, j) => parseTarget(t, `${field}.targets[${j}]`)),
    };
  });
}
