// `bulwark lint`'s ruleset: Kong-aware security checks over declarative files. Rule ids are stable (never reused,
// never renumbered); the catalog below is the documentation (`bulwark lint --list-rules`, README, SARIF `rules`).
//
// Kong's bundled-plugin defaults the rules rely on are taken from Kong 3.9's plugin schemas (cited per field);
// Bulwark plugins' defaults come from their dumped schemas (Kong's own default filling, kong/schema/config.ts).
import { createHash } from 'node:crypto';
import { keyChecksum } from '../../plugins/bulwark-api-key/key-format';
import type { DeclarativeModel, Entity, PluginEntity, RouteEntity, SourceLocation } from './deck-file';

export type Severity = 'critical' | 'high' | 'medium' | 'low';
export const SEVERITIES: readonly Severity[] = ['low', 'medium', 'high', 'critical'];
export const severityRank = (s: Severity): number => SEVERITIES.indexOf(s);

export interface Finding {
  ruleId: string;
  severity: Severity;
  message: string;
  location: SourceLocation;
  /** Stable identity of what the finding is about (entity kind + key + detail), for fingerprints. */
  identity: string;
}

export interface Rule {
  id: string;
  /** PascalCase name (SARIF `name`). */
  name: string;
  severity: Severity;
  /** One line. */
  summary: string;
  /** What is wrong, why it matters, how to fix it. */
  help: string;
  check(ctx: LintContext): Finding[];
}

export interface LintContext {
  model: DeclarativeModel;
  /** The plugin's config with its schema's defaults filled (Bulwark: dumped schema; Kong bundled: KONG_DEFAULTS). */
  config(plugin: PluginEntity): Record<string, unknown>;
  /** The plugins in effect on a route for an anonymous request: route > service > global, one per name. */
  effective(route: RouteEntity): Map<string, PluginEntity>;
  /** Does kong.conf (--kong-conf) load bulwark-guard? undefined: not given. */
  guardLoaded?: boolean;
}

/**
 * Defaults of Kong 3.9's bundled plugins for the fields the rules read:
 * key-auth: key_in_query true, hide_credentials false (kong/plugins/key-auth/schema.lua);
 * basic-auth, hmac-auth, ldap-auth, oauth2: hide_credentials false (their schema.lua);
 * cors: credentials false, origins unset = any origin (kong/plugins/cors/schema.lua, handler.lua configure_origin);
 * rate-limiting: policy local, fault_tolerant true (kong/plugins/rate-limiting/schema.lua);
 * oauth2: enable_password_grant false, enable_implicit_grant false (kong/plugins/oauth2/schema.lua);
 * jwt: claims_to_verify unset (kong/plugins/jwt/schema.lua).
 */
export const KONG_DEFAULTS: Record<string, Record<string, unknown>> = {
  'key-auth': { key_in_query: true, hide_credentials: false },
  'basic-auth': { hide_credentials: false },
  'hmac-auth': { hide_credentials: false },
  'ldap-auth': { hide_credentials: false },
  oauth2: { hide_credentials: false, enable_password_grant: false, enable_implicit_grant: false },
  cors: { credentials: false },
  'rate-limiting': { policy: 'local', fault_tolerant: true },
  'rate-limiting-advanced': { fault_tolerant: true },
  jwt: {},
};

/** Plugins that authenticate the client (Kong bundled and Bulwark); bulwark-oauth2 is a token endpoint that does. */
export const AUTH_PLUGINS = new Set([
  'key-auth',
  'key-auth-enc',
  'basic-auth',
  'hmac-auth',
  'jwt',
  'oauth2',
  'oauth2-introspection',
  'openid-connect',
  'ldap-auth',
  'ldap-auth-advanced',
  'mtls-auth',
  'bulwark-jwt',
  'bulwark-api-key',
  'bulwark-oauth2',
]);

/** Tag that silences a rule on an entity: `bulwark-lint:ignore=BW001`. */
export const IGNORE_TAG = 'bulwark-lint:ignore=';

const PRODUCTION_TAG = /^(?:prod|production)$|^(?:env|environment|stage)[:=](?:prod|production)$/i;
/** decK `file openapi2kong` tags what it generates with OAS3_import and OAS3file_<file>. */
const OPENAPI_TAG = /^(?:OAS3_import|OAS3file_.+|openapi)$/;
const AUTH_ENDPOINT_PATH = /(?:login|signin|sign-in|logon|token|oauth|auth|password|session)/i;

const where = (e: Entity): string => `${e.kind} ${e.key}`;
const identity = (e: Entity, detail = ''): string => `${e.kind}:${e.key}${detail ? `:${detail}` : ''}`;
const isHttpRoute = (r: RouteEntity): boolean =>
  r.protocols.some((p) => ['http', 'https', 'grpc', 'grpcs', 'ws', 'wss'].includes(p));
const hasAuth = (plugins: Map<string, PluginEntity>): boolean => [...plugins.keys()].some((n) => AUTH_PLUGINS.has(n));

/**
 * Plugins in effect on a route that publish Bulwark's caller identity (docs/identity.md), the only identity
 * bulwark-authz decides over: bulwark-jwt, bulwark-api-key, bulwark-transport with `mtls.enabled`. Kong's own
 * authentication plugins set a Kong consumer but publish no Bulwark identity.
 */
function identityPublishers(ctx: LintContext, plugins: Map<string, PluginEntity>): string[] {
  return [...plugins].flatMap(([name, p]) => {
    if (name === 'bulwark-jwt' || name === 'bulwark-api-key') return [name];
    const mtls = name === 'bulwark-transport' ? (ctx.config(p).mtls as Record<string, unknown> | undefined) : undefined;
    return mtls?.enabled === true ? [name] : [];
  });
}

/** Does an OpenAPI document describe the route? decK openapi2kong tags, or a bulwark-validator with a document. */
function openApiSource(ctx: LintContext, r: RouteEntity): string | undefined {
  const service = ctx.model.services.find((s) => s.key === r.service);
  const tag = [...r.tags, ...(service?.tags ?? [])].find((t) => OPENAPI_TAG.test(t));
  if (tag) return `tag '${tag}'`;
  const validator = ctx.effective(r).get('bulwark-validator');
  const openapi = validator ? (validator.config.openapi as Record<string, unknown> | undefined) : undefined;
  return openapi && (typeof openapi.spec === 'string' || typeof openapi.spec_file === 'string')
    ? `bulwark-validator (${scopeOf(validator!)}) openapi`
    : undefined;
}

function finding(rule: Rule, e: Entity, message: string, location: SourceLocation, detail = ''): Finding {
  return { ruleId: rule.id, severity: rule.severity, message, location, identity: identity(e, detail) };
}

/** Findings of `rule` on the plugins named `names` (every enabled entry, at any scope). */
function pluginFindings(
  ctx: LintContext,
  rule: Rule,
  names: readonly string[],
  test: (conf: Record<string, unknown>, p: PluginEntity) => { message: string; field: string } | undefined,
): Finding[] {
  const out: Finding[] = [];
  for (const p of ctx.model.plugins) {
    if (!p.enabled || !names.includes(p.pluginName)) continue;
    const hit = test(ctx.config(p), p);
    if (!hit) continue;
    // An explicit value points at itself; a default at the plugin entry.
    const loc = p.locate(`config.${hit.field}`);
    out.push(finding(rule, p, `${p.pluginName} (${scopeOf(p)}): ${hit.message}`, loc, hit.field));
  }
  return out;
}

export const scopeOf = (p: PluginEntity): string =>
  p.route ? `route ${p.route}` : p.service ? `service ${p.service}` : p.consumer ? `consumer ${p.consumer}` : 'global';

const explicit = (p: PluginEntity, field: string): boolean => Object.prototype.hasOwnProperty.call(p.config, field);

// The secret scanner's patterns: what a leaked credential looks like wherever it is written.
const SECRET_PATTERNS: { name: string; re: RegExp }[] = [
  { name: 'a private key (PEM)', re: /-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----/ },
  { name: 'a private JWK (its "d" member)', re: /"d"\s*:\s*"[A-Za-z0-9_-]{16,}"/ },
  { name: 'an AWS access key id', re: /\b(?:AKIA|ASIA)[0-9A-Z]{16}\b/ },
  { name: 'a GitHub token', re: /\bgh[pousr]_[A-Za-z0-9]{36,255}\b/ },
  { name: 'a Slack token', re: /\bxox[abposr]-[A-Za-z0-9-]{10,250}/ },
  { name: 'a Stripe secret key', re: /\b[sr]k_live_[A-Za-z0-9]{16,247}\b/ },
  { name: 'a password in a URL', re: /\b[a-z][a-z0-9+.-]*:\/\/[^\s:@/]+:[^\s@/]+@/i },
];
/** bulwark-api-key's published format (plugins/bulwark-api-key/key-format.ts): prefix_random32_checksum6. */
const API_KEY = /\b([a-z][a-z0-9]*(?:_[a-z0-9]+)*)_([0-9A-Za-z]{32})_([0-9A-Za-z]{6})\b/g;
/** Field names whose literal value is a secret (a `_hash` or `_file` field is not). */
const SECRET_FIELD =
  /^(?:password|passwd|secret|client_secret|api_key|apikey|private_key|pepper|hmac_secret|token|access_token|refresh_token|signing_keys?|secret_key|key)$/i;
const isReference = (v: string): boolean => /^\{vault:\/\/[^}]+\}$/.test(v) || /^\$\{\{\s*env\s/.test(v);

function apiKeyIn(value: string): boolean {
  for (const m of value.matchAll(API_KEY)) {
    const [, prefix, random, checksum] = m;
    if (keyChecksum(`${prefix}_${random}`) === checksum || /^bwk_(?:live|test)$/.test(prefix!)) return true;
  }
  return false;
}

export const RULES: Rule[] = [
  {
    id: 'BW001',
    name: 'RouteWithoutAuthentication',
    severity: 'high',
    summary: 'A route is reachable without any authentication plugin.',
    help:
      'No authentication plugin (Kong: key-auth, jwt, oauth2, basic-auth, hmac-auth, openid-connect, …; Bulwark: ' +
      'bulwark-jwt, bulwark-api-key, bulwark-oauth2) is in effect on the route, at route, service or global scope. ' +
      'Anyone who can reach the gateway can call it. Add one, or, for an intentionally public route, tag the route ' +
      '`bulwark-lint:ignore=BW001`.',
    check(ctx) {
      return ctx.model.routes
        .filter((r) => isHttpRoute(r) && !hasAuth(ctx.effective(r)))
        .map((r) => finding(this, r, `${where(r)} is reachable without authentication`, r.loc));
    },
  },
  {
    id: 'BW002',
    name: 'AclWithoutAuthentication',
    severity: 'high',
    summary: '`acl` is in effect on a route without an authentication plugin.',
    help:
      "Kong's acl plugin decides on the consumer an authentication plugin identified. Without one, acl sees no " +
      'consumer: every request is refused or, with a deny list only, every request passes. Add an authentication ' +
      'plugin on the same route or service.',
    check(ctx) {
      return ctx.model.routes.flatMap((r) => {
        const eff = ctx.effective(r);
        const acl = eff.get('acl');
        return acl && !hasAuth(eff)
          ? [finding(this, r, `${where(r)}: acl (${scopeOf(acl)}) without an authentication plugin`, r.loc, 'acl')]
          : [];
      });
    },
  },
  {
    id: 'BW003',
    name: 'KeyInQuery',
    severity: 'medium',
    summary: 'key-auth reads API keys from the query string (`key_in_query`, on by default).',
    help:
      'Keys in URLs end up in access logs, proxies, browser history and Referer headers. Set ' +
      "`config.key_in_query: false` (Kong's default is true) and send keys in a header. bulwark-api-key reads " +
      'the query only when its `key_in_query` is set.',
    check(ctx) {
      return pluginFindings(ctx, this, ['key-auth', 'key-auth-enc', 'bulwark-api-key'], (c, p) =>
        c.key_in_query === true
          ? {
              field: 'key_in_query',
              message: explicit(p, 'key_in_query')
                ? 'key_in_query is true'
                : "key_in_query is left at Kong's default (true)",
            }
          : undefined,
      );
    },
  },
  {
    id: 'BW004',
    name: 'CredentialsForwardedUpstream',
    severity: 'low',
    summary: 'An authentication plugin forwards the credential to the upstream (`hide_credentials: false`).',
    help:
      'With hide_credentials false the API key, password or token travels on to the upstream service, where it ' +
      'can be logged or leaked. Set `config.hide_credentials: true` unless the upstream needs it.',
    check(ctx) {
      return pluginFindings(
        ctx,
        this,
        ['key-auth', 'key-auth-enc', 'basic-auth', 'hmac-auth', 'ldap-auth', 'oauth2', 'bulwark-api-key'],
        (c, p) =>
          c.hide_credentials === false
            ? {
                field: 'hide_credentials',
                message: explicit(p, 'hide_credentials')
                  ? 'hide_credentials is false'
                  : 'hide_credentials is left at its default (false)',
              }
            : undefined,
      );
    },
  },
  {
    id: 'BW005',
    name: 'CorsAnyOriginWithCredentials',
    severity: 'high',
    summary: 'CORS allows any origin (`*` or no origins) together with credentials.',
    help:
      "With `credentials: true` and origins `*` (or none configured), Kong's cors plugin echoes the caller's " +
      "Origin and allows credentials: any web site can make authenticated requests with the user's cookies and " +
      'read the answers. List the trusted origins explicitly.',
    check(ctx) {
      return pluginFindings(ctx, this, ['cors'], (c) => {
        const origins = Array.isArray(c.origins) ? c.origins : [];
        const any = origins.length === 0 || origins.includes('*');
        return c.credentials === true && any
          ? {
              field: 'origins',
              message: `credentials with ${origins.length === 0 ? 'no origins (any origin)' : "origin '*'"}`,
            }
          : undefined;
      });
    },
  },
  {
    id: 'BW006',
    name: 'PlainHttpRoute',
    severity: 'medium',
    summary: 'A route accepts plain HTTP and nothing redirects it to HTTPS.',
    help:
      "The route's protocols include `http` (Kong's default is [http, https]) and no bulwark-transport with " +
      '`https.enforce` is in effect, so credentials and data can travel in clear text. Set `protocols: [https]` ' +
      '(Kong then answers `https_redirect_status_code`, e.g. 301/308) or enable bulwark-transport.',
    check(ctx) {
      return ctx.model.routes.flatMap((r) => {
        if (!r.protocols.includes('http')) return [];
        const transport = ctx.effective(r).get('bulwark-transport');
        const https = transport ? (ctx.config(transport).https as Record<string, unknown> | undefined) : undefined;
        if (transport && https?.enforce !== false) return [];
        const loc = Array.isArray(r.data.protocols) ? r.locate('protocols') : r.loc;
        return [finding(this, r, `${where(r)} accepts plain HTTP without an HTTPS redirect`, loc, 'protocols')];
      });
    },
  },
  {
    id: 'BW007',
    name: 'PlainHttpUpstream',
    severity: 'low',
    summary: 'A service reaches its upstream over plain HTTP.',
    help:
      'Requests, credentials the gateway forwards and responses cross the network between Kong and the upstream ' +
      'in clear text. Use https (with `tls_verify: true`) unless the upstream is on the same host or a trusted link, ' +
      'then tag the service `bulwark-lint:ignore=BW007`.',
    check(ctx) {
      return ctx.model.services
        .filter((s) => s.protocol === 'http' || s.protocol === 'grpc' || s.protocol === 'ws')
        .map((s) =>
          finding(
            this,
            s,
            `service ${s.key} uses ${s.protocol}:// to its upstream`,
            s.locate(s.data.url ? 'url' : 'protocol'),
          ),
        );
    },
  },
  {
    id: 'BW008',
    name: 'UpstreamTlsNotVerified',
    severity: 'medium',
    summary: 'A TLS upstream whose certificate is not verified (`tls_verify` off or unset).',
    help:
      "Kong verifies an upstream's certificate only with `tls_verify: true` on the service (unset falls back to " +
      'nginx `proxy_ssl_verify`, off by default). Without it anyone on the path can impersonate the upstream. Set ' +
      '`tls_verify: true` and `ca_certificates`.',
    check(ctx) {
      return ctx.model.services
        .filter((s) => ['https', 'grpcs', 'tls', 'wss'].includes(s.protocol) && s.data.tls_verify !== true)
        .map((s) =>
          finding(
            this,
            s,
            `service ${s.key} (${s.protocol}) does not verify its upstream's certificate (tls_verify ${s.data.tls_verify === false ? 'false' : 'unset'})`,
            s.locate('tls_verify'),
          ),
        );
    },
  },
  {
    id: 'BW009',
    name: 'SecretInFile',
    severity: 'critical',
    summary: 'A secret, password, private key or API key is written in the file instead of a `{vault://…}` reference.',
    help:
      'Declarative files are committed, copied to CI and printed in diffs. Keep secrets in a Kong vault and ' +
      'reference them (`{vault://env/my-secret}`); store hashes where the plugin takes them (bulwark-api-key ' +
      '`keys[].hash`, bulwark-oauth2 `client_secret_hash`). Detected: PEM private keys, private JWKs, ' +
      'bulwark-api-key keys (its published format, checksum verified), AWS, GitHub, Slack and Stripe tokens, ' +
      'passwords in URLs, and literal values of fields named like secrets (password, secret, client_secret, ' +
      'api_key, private_key, pepper, token, key, signing_keys).',
    check(ctx) {
      const out: Finding[] = [];
      for (const s of ctx.model.strings) {
        if (isReference(s.value)) continue;
        const field = [...s.path].reverse().find((p) => !/^\d+$/.test(p)) ?? '';
        let kind = SECRET_PATTERNS.find((p) => p.re.test(s.value))?.name;
        if (!kind && apiKeyIn(s.value)) kind = 'a bulwark-api-key API key';
        if (
          !kind &&
          SECRET_FIELD.test(field) &&
          s.value.length >= 8 &&
          !/^(?:sha256|hmac-sha256|\$scrypt|\$pbkdf2)/.test(s.value)
        )
          kind = `a literal value of the secret field '${field}'`;
        if (!kind) continue;
        const path = s.path.join('.');
        out.push({
          ruleId: this.id,
          severity: this.severity,
          message: `${path}: ${kind} is written in the file; use a {vault://…} reference`,
          location: s.loc,
          identity: `file:${path}:${createHash('sha256').update(s.value).digest('hex').slice(0, 16)}`,
        });
      }
      return out;
    },
  },
  {
    id: 'BW010',
    name: 'FaultTolerantLimitOnAuthentication',
    severity: 'medium',
    summary: 'A shared rate limit protecting an authentication endpoint lets requests through when its store fails.',
    help:
      "rate-limiting with policy cluster or redis and `fault_tolerant: true` (Kong's default) proxies requests " +
      'unlimited when the database or Redis is unreachable. On a login or token endpoint that re-opens password ' +
      'and client-secret guessing exactly when an attacker can disturb the store. Set `fault_tolerant: false` on ' +
      'limits that protect authentication (bulwark-rate-limit fails closed).',
    check(ctx) {
      const out: Finding[] = [];
      for (const r of ctx.model.routes) {
        const eff = ctx.effective(r);
        const paths = Array.isArray(r.data.paths) ? r.data.paths.map(String) : [];
        const authEndpoint =
          eff.has('bulwark-oauth2') || eff.has('oauth2') || paths.some((p) => AUTH_ENDPOINT_PATH.test(p));
        if (!authEndpoint) continue;
        for (const name of ['rate-limiting', 'rate-limiting-advanced']) {
          const p = eff.get(name);
          if (!p) continue;
          const c = ctx.config(p);
          if (c.fault_tolerant !== true || c.policy === 'local') continue;
          out.push(
            finding(
              this,
              p,
              `${name} (${scopeOf(p)}) protects authentication endpoint ${where(r)} with fault_tolerant true: requests pass unlimited when its store fails`,
              p.locate('config.fault_tolerant'),
              `route:${r.key}`,
            ),
          );
        }
      }
      return out;
    },
  },
  {
    id: 'BW011',
    name: 'OAuth2LegacyGrant',
    severity: 'high',
    summary: "Kong's oauth2 plugin enables the password or implicit grant.",
    help:
      'The resource owner password credentials and implicit grants are deprecated (OAuth 2.0 Security BCP, ' +
      "RFC 9700 §2.1.2, §2.4): the client sees the user's password, or tokens travel in URLs. Use the " +
      'authorization code grant with PKCE, or client credentials for machines.',
    check(ctx) {
      return [
        ...pluginFindings(ctx, this, ['oauth2'], (c) =>
          c.enable_password_grant === true
            ? { field: 'enable_password_grant', message: 'the password grant is enabled' }
            : undefined,
        ),
        ...pluginFindings(ctx, this, ['oauth2'], (c) =>
          c.enable_implicit_grant === true
            ? { field: 'enable_implicit_grant', message: 'the implicit grant is enabled' }
            : undefined,
        ),
      ];
    },
  },
  {
    id: 'BW012',
    name: 'JwtWithoutExpiry',
    severity: 'high',
    summary: "Kong's jwt plugin does not check `exp` (`claims_to_verify` lacks it).",
    help:
      "Kong's jwt plugin verifies `exp` only when `claims_to_verify` lists it (its default is empty): a token " +
      'without expiry, or long expired, is accepted forever. Set `claims_to_verify: [exp]` (and ' +
      '`maximum_expiration`). bulwark-jwt always requires and checks `exp`.',
    check(ctx) {
      return pluginFindings(ctx, this, ['jwt'], (c) => {
        const claims = Array.isArray(c.claims_to_verify) ? c.claims_to_verify : [];
        return claims.includes('exp')
          ? undefined
          : { field: 'claims_to_verify', message: 'exp is not in claims_to_verify' };
      });
    },
  },
  {
    id: 'BW013',
    name: 'MonitorModeInProduction',
    severity: 'high',
    summary: 'A Bulwark plugin runs in monitor mode on entities tagged for production.',
    help:
      'In `mode: monitor` a Bulwark plugin logs what it would refuse and lets every request through. That is ' +
      'for rolling out a rule; with a production tag (prod, production, env:prod) on the plugin, its route or ' +
      'its service it means no protection. Switch to `mode: enforce`.',
    check(ctx) {
      const tagsOf = (key: string | undefined, list: Entity[]) => list.find((e) => e.key === key)?.tags ?? [];
      return pluginFindings(
        ctx,
        this,
        ctx.model.plugins.map((p) => p.pluginName).filter((n) => n.startsWith('bulwark-')),
        (c, p) => {
          if (c.mode !== 'monitor') return undefined;
          const tags = [...p.tags, ...tagsOf(p.route, ctx.model.routes), ...tagsOf(p.service, ctx.model.services)];
          const prod = tags.find((t) => PRODUCTION_TAG.test(t));
          return prod ? { field: 'mode', message: `mode is monitor with production tag '${prod}'` } : undefined;
        },
      );
    },
  },
  {
    id: 'BW014',
    name: 'OpenApiRouteWithoutValidator',
    severity: 'medium',
    summary: 'A route generated from an OpenAPI document has no bulwark-validator.',
    help:
      'The route (or its service) carries the tags decK `file openapi2kong` gives generated entities ' +
      '(OAS3_import, OAS3file_<file>) or the tag `openapi`, so an OpenAPI document describes it, but no ' +
      'bulwark-validator checks requests against that document: undocumented parameters, bodies and operations ' +
      'reach the upstream. Add bulwark-validator with the document (`config.openapi.spec`).',
    check(ctx) {
      return ctx.model.routes.flatMap((r) => {
        const service = ctx.model.services.find((s) => s.key === r.service);
        const tag = [...r.tags, ...(service?.tags ?? [])].find((t) => OPENAPI_TAG.test(t));
        if (!tag || ctx.effective(r).has('bulwark-validator')) return [];
        return [
          finding(
            this,
            r,
            `${where(r)} is described by an OpenAPI document (tag '${tag}') but has no bulwark-validator`,
            r.loc,
          ),
        ];
      });
    },
  },
  {
    id: 'BW015',
    name: 'GuardMissing',
    severity: 'high',
    summary: 'Bulwark plugins are configured but the fail-closed guard (bulwark-guard) is not loaded.',
    help:
      'When the plugin server is down or an RPC fails, Kong skips the plugin and proxies the request as if it ' +
      'had allowed it. bulwark-guard (a Lua plugin, loaded through kong.conf `plugins = bundled,bulwark-guard,…`) ' +
      'refuses such undecided requests with 503. Give the kong.conf with `--kong-conf` so the rule can see it, or ' +
      'add a global `bulwark-guard` plugin entity to the file to declare it.',
    check(ctx) {
      const first = ctx.model.plugins.find(
        (p) => p.enabled && p.pluginName.startsWith('bulwark-') && p.pluginName !== 'bulwark-guard',
      );
      if (!first) return [];
      const declared = ctx.model.plugins.some((p) => p.pluginName === 'bulwark-guard' && p.enabled);
      if (ctx.guardLoaded === true || (ctx.guardLoaded === undefined && declared)) return [];
      const why =
        ctx.guardLoaded === false
          ? 'kong.conf does not load bulwark-guard'
          : 'no bulwark-guard is declared (and no --kong-conf given)';
      return [
        finding(
          this,
          first,
          `Bulwark plugins are configured but ${why}: requests pass unchecked when the plugin server fails`,
          first.loc,
          'guard',
        ),
      ];
    },
  },
  {
    id: 'BW016',
    name: 'AuthzWithoutIdentity',
    severity: 'medium',
    summary: 'bulwark-authz is in effect on a route where no plugin publishes the caller identity it decides over.',
    help:
      'bulwark-authz decides over the caller identity Bulwark authentication publishes (bulwark-jwt, ' +
      "bulwark-api-key, bulwark-transport with `mtls.enabled`; docs/identity.md). Kong's own authentication " +
      'plugins (key-auth, jwt, oauth2, …) set a Kong consumer but publish no such identity. Without a publisher ' +
      'every caller is anonymous to bulwark-authz: its rules for authenticated callers never hold (those ' +
      'operations are refused to everyone) and only `caller: any` / `anonymous` rules allow, to anyone. Add a ' +
      'Bulwark authentication plugin on the route or service.',
    check(ctx) {
      return ctx.model.routes.flatMap((r) => {
        const eff = ctx.effective(r);
        const authz = eff.get('bulwark-authz');
        if (!authz || identityPublishers(ctx, eff).length > 0) return [];
        const kongAuth = [...eff.keys()].filter((n) => AUTH_PLUGINS.has(n));
        const why = kongAuth.length
          ? `${kongAuth.join(', ')} publish${kongAuth.length === 1 ? 'es' : ''} no Bulwark caller identity`
          : 'no authentication plugin is in effect';
        return [
          finding(
            this,
            r,
            `${where(r)}: bulwark-authz (${scopeOf(authz)}) sees every caller as anonymous: ${why}`,
            r.loc,
            'authz',
          ),
        ];
      });
    },
  },
  {
    id: 'BW017',
    name: 'OpenApiRouteWithoutAuthorization',
    severity: 'medium',
    summary: 'An authenticated route described by an OpenAPI document has no per-operation authorization.',
    help:
      'The route authenticates its callers and an OpenAPI document describes its operations (decK openapi2kong ' +
      'tags, the tag `openapi`, or a bulwark-validator document), but no bulwark-authz is in effect: every ' +
      'authenticated caller may call every operation on every object (OWASP API1:2023 broken object level ' +
      "authorization, API5:2023 broken function level authorization). Kong's `acl` decides per route, not per " +
      'operation or object. Add bulwark-authz with rules per operation; tag the route ' +
      '`bulwark-lint:ignore=BW017` if every caller may indeed call everything.',
    check(ctx) {
      return ctx.model.routes.flatMap((r) => {
        const eff = ctx.effective(r);
        if (!isHttpRoute(r) || !hasAuth(eff) || eff.has('bulwark-authz')) return [];
        const source = openApiSource(ctx, r);
        if (!source) return [];
        return [
          finding(
            this,
            r,
            `${where(r)} is described by an OpenAPI document (${source}) and authenticates callers, but has no bulwark-authz: every caller may call every operation`,
            r.loc,
            'authz',
          ),
        ];
      });
    },
  },
  {
    id: 'BW018',
    name: 'AuditEventsInClearText',
    severity: 'medium',
    summary: 'bulwark-audit ships security events unencrypted or without verifying the receiver.',
    help:
      'Security events carry client addresses, caller identities, paths and decisions. bulwark-audit sinks over ' +
      '`http://` (Splunk HEC, Elasticsearch), syslog over `udp` or `tcp`, or with `tls_verify: false` let anyone on ' +
      'the path read them, and forge or drop them (UDP syslog is trivially spoofed), and send HEC tokens and ' +
      'Elasticsearch credentials in clear text. Use https URLs, syslog `protocol: tls`, and keep `tls_verify: true`.',
    check(ctx) {
      return pluginFindings(ctx, this, ['bulwark-audit'], (c) => {
        const sinks = (c.sinks ?? {}) as Record<string, Record<string, unknown> | null | undefined>;
        for (const name of ['splunk', 'elasticsearch']) {
          const sink = sinks[name];
          if (!sink) continue;
          if (typeof sink.url === 'string' && /^http:\/\//i.test(sink.url))
            return { field: `sinks.${name}.url`, message: `the ${name} sink sends events over plain http` };
          if (sink.tls_verify === false)
            return { field: `sinks.${name}.tls_verify`, message: `the ${name} sink does not verify the receiver` };
        }
        const syslog = sinks.syslog;
        if (syslog) {
          const protocol = typeof syslog.protocol === 'string' ? syslog.protocol : 'tcp';
          if (protocol !== 'tls')
            return {
              field: 'sinks.syslog.protocol',
              message: `the syslog sink sends events over ${protocol} without TLS`,
            };
          if (syslog.tls_verify === false)
            return { field: 'sinks.syslog.tls_verify', message: 'the syslog sink does not verify the receiver' };
        }
        return undefined;
      });
    },
  },
];

export const ruleById = new Map(RULES.map((r) => [r.id, r]));
