// Reading a plugin's config object (what Kong's StartInstance delivers, already validated and defaulted by
// Kong's schema layer) into typed values. Kong has validated types, but a plugin still re-checks: the schema
// cannot express everything (CIDRs, cross-field rules), and a config that surprises us must stop the
// instance from starting rather than run with a guess (fail closed). Missing optional fields arrive as
// null (cjson.null) or are absent; both read as "not set".

/** A config error naming the offending field, e.g. `trusted_proxies[1]: invalid CIDR "10.0.0/8"`. */
export class ConfigError extends Error {
  constructor(
    readonly field: string,
    readonly reason: string,
  ) {
    super(`${field}: ${reason}`);
    this.name = 'ConfigError';
  }
}

export type ConfigObject = Record<string, unknown>;

function path(parent: string, key: string): string {
  return parent === '' ? key : `${parent}.${key}`;
}

function isSet(value: unknown): boolean {
  return value !== undefined && value !== null;
}

/**
 * The longest a handler may wait on anything outside Kong (a Redis decision, a JWKS fetch) in one step. Kong waits
 * 60 s for a step's reply (lua_socket_read_timeout) and then skips the plugin (fail-open): every outbound timeout
 * a config can set stays far below that.
 */
export const MAX_OUTBOUND_WAIT_MS = 10_000;

// kong/pdk/vault.lua is_reference: "{vault:" ... "}".
const VAULT_REFERENCE = /^\{vault:[\s\S]*\}$/;

/** Refuses "" (an unresolvable vault reference) and a reference Kong left unresolved, naming `field`. */
export function checkSecret(value: string, field: string): string {
  if (value === '')
    throw new ConfigError(field, 'empty secret (an unresolvable vault reference reaches the plugin as "")');
  // Kong resolves references before StartInstance; one still here was not resolved.
  if (VAULT_REFERENCE.test(value)) throw new ConfigError(field, 'vault reference was not resolved');
  return value;
}

/** Typed accessors over one config record; `at` is the record's path used in error messages. */
export class ConfigReader {
  private readonly obj: ConfigObject;

  constructor(
    raw: unknown,
    readonly at: string = '',
  ) {
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
      throw new ConfigError(at === '' ? 'config' : at, 'expected a record');
    }
    this.obj = raw as ConfigObject;
  }

  field(key: string): string {
    return path(this.at, key);
  }

  has(key: string): boolean {
    return isSet(this.obj[key]);
  }

  /** A nested record; a missing one reads as an empty record (its fields then take their fallbacks). */
  record(key: string): ConfigReader {
    const value = this.obj[key];
    return new ConfigReader(isSet(value) ? value : {}, this.field(key));
  }

  string(key: string, fallback?: string): string {
    const value = this.obj[key];
    if (!isSet(value)) {
      if (fallback !== undefined) return fallback;
      throw new ConfigError(this.field(key), 'required field missing');
    }
    if (typeof value !== 'string') throw new ConfigError(this.field(key), 'expected a string');
    return value;
  }

  optionalString(key: string): string | undefined {
    return this.has(key) ? this.string(key) : undefined;
  }

  oneOf<T extends string>(key: string, allowed: readonly T[], fallback: T): T {
    const value = this.string(key, fallback);
    if (!(allowed as readonly string[]).includes(value)) {
      throw new ConfigError(this.field(key), `expected one of: ${allowed.join(', ')}`);
    }
    return value as T;
  }

  boolean(key: string, fallback: boolean): boolean {
    const value = this.obj[key];
    if (!isSet(value)) return fallback;
    if (typeof value !== 'boolean') throw new ConfigError(this.field(key), 'expected a boolean');
    return value;
  }

  integer(key: string, fallback: number, min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER): number {
    const value = this.optionalInteger(key, min, max);
    return value === undefined ? fallback : value;
  }

  optionalInteger(key: string, min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER): number | undefined {
    const value = this.obj[key];
    if (!isSet(value)) return undefined;
    if (typeof value !== 'number' || !Number.isInteger(value)) {
      throw new ConfigError(this.field(key), 'expected an integer');
    }
    if (value < min || value > max) throw new ConfigError(this.field(key), `must be between ${min} and ${max}`);
    return value;
  }

  /** An array (or set) of strings; a missing one reads as `fallback`. */
  stringArray(key: string, fallback: readonly string[] = []): string[] {
    const value = this.obj[key];
    if (!isSet(value)) return [...fallback];
    // Kong encodes an empty Lua table as an empty map `{}` in some paths (cjson): accept it as [].
    if (typeof value === 'object' && !Array.isArray(value) && Object.keys(value as object).length === 0) return [];
    if (!Array.isArray(value)) throw new ConfigError(this.field(key), 'expected an array');
    return value.map((element, i) => {
      if (typeof element !== 'string') throw new ConfigError(`${this.field(key)}[${i}]`, 'expected a string');
      return element;
    });
  }

  /**
   * A field that holds a secret (a password, a key, a shared secret), usually a vault reference. Kong turns a
   * reference it cannot resolve into "" with only a warning (kong/db/schema/init.lua resolve_reference), so ""
   * is refused here: a missing vault entry stops the instance instead of running without the secret.
   */
  secretString(key: string): string {
    return checkSecret(this.string(key), this.field(key));
  }

  optionalSecretString(key: string): string | undefined {
    return this.has(key) ? this.secretString(key) : undefined;
  }

  /** An array of secrets (each element may be a vault reference): every element as `secretString`. */
  secretStringArray(key: string): string[] {
    return this.stringArray(key).map((v, i) => checkSecret(v, `${this.field(key)}[${i}]`));
  }

  /** A map of string to string; a missing one reads as {}. */
  stringMap(key: string): Record<string, string> {
    const value = this.obj[key];
    if (!isSet(value)) return {};
    if (Array.isArray(value)) {
      if (value.length === 0) return {}; // an empty Lua table may be encoded as []
      throw new ConfigError(this.field(key), 'expected a map');
    }
    if (typeof value !== 'object') throw new ConfigError(this.field(key), 'expected a map');
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(value as ConfigObject)) {
      if (typeof v !== 'string') throw new ConfigError(`${this.field(key)}.${k}`, 'expected a string');
      out[k] = v;
    }
    return out;
  }
}
