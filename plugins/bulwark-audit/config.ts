// bulwark-audit's config: the declared fields (schema.ts), with the trusted proxies parsed and the redaction names
// merged with the built-in credential locations once per instance.
import { readConfig } from '../lib/fields';
import { CidrList } from '../lib/ip';
import type { ClientIpSettings, ForwardedHeaderKind } from '../lib/client-ip';
import type { Decision } from '../lib/security-event';
import { ConfigFields } from './schema';

export interface FileSinkConfig {
  path: string;
}

export interface SinksConfig {
  file?: FileSinkConfig;
}

export interface RedactionNames {
  /** lower-case */
  headers: string[];
  query: string[];
  cookies: string[];
}

export interface AuditConfig {
  decisions: ReadonlySet<Decision>;
  clientIp: ClientIpSettings;
  /** Operator-added names only; redaction.ts adds the built-in ones. */
  redact: RedactionNames;
  sinks: SinksConfig;
}

export function parseAuditConfig(raw: unknown): AuditConfig {
  const conf = readConfig(ConfigFields, raw);
  const sinks: SinksConfig = {};
  if (conf.sinks.file) sinks.file = { path: conf.sinks.file.path };
  return {
    decisions: new Set(conf.decisions),
    clientIp: {
      trustedProxies: CidrList.parse(conf.trusted_proxies, 'trusted_proxies'),
      forwardedHeader: conf.forwarded_header as ForwardedHeaderKind,
    },
    redact: {
      headers: [...new Set(conf.redact.headers.map((n) => n.toLowerCase()))],
      query: [...new Set(conf.redact.query)],
      cookies: [...new Set(conf.redact.cookies)],
    },
    sinks,
  };
}
