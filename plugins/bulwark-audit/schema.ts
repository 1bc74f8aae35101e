// bulwark-audit's config fields, declared once (lib/fields.ts): the Kong schema the plugin server dumps, the parsed
// type and its reader, and the README table all come from here. Each concern declares its fields in its own block
// (events, redaction, sinks; bans and metrics add theirs the same way) so that they can change independently.
import { configFields, kongSchema, record, set, string } from '../lib/fields';
import { forwardedHeader, headerName, trustedProxies } from '../lib/typedefs';
import { DECISIONS } from '../lib/security-event';

/** Which events are shipped, and how the client address is resolved for them. */
export const EventFields = {
  decisions: set(string({ one_of: DECISIONS }), {
    len_min: 1,
    default: ['deny', 'monitor-deny', 'error'],
    description:
      'Decisions shipped as events. `allow` adds one event per passing Bulwark plugin and request: size your sinks for it.',
  }),
  trusted_proxies: trustedProxies(
    'Proxies in front of Kong whose forwarding header gives the client address reported in events (`client_ip`).',
  ),
  forwarded_header: forwardedHeader('The header those proxies write the client address to.'),
} as const;

/** Names redacted in Bulwark's events and in what Kong's own log plugins serialize, beyond the built-in list. */
export const RedactionFields = {
  redact: record(
    {
      headers: set(headerName(), {
        len_max: 64,
        default: [],
        description: 'More request headers whose value is a credential (case-insensitive).',
      }),
      query: set(string({ len_max: 128, match: '^[^.]+$' }), {
        len_max: 64,
        default: [],
        description: 'More query-string parameters whose value is a credential (no `.`: Kong splits keys on it).',
      }),
      cookies: set(string({ len_max: 128, match: '^[^.]+$' }), {
        len_max: 64,
        default: [],
        description: 'More cookies whose value is a credential (the cookie is kept, its value replaced).',
      }),
    },
    {
      required: true,
      description: 'Credential locations to redact beyond the built-in ones (see the README: Redaction).',
    },
  ),
} as const;

/** Where events go; each sink is optional and several may be on at once. */
export const SinkFields = {
  sinks: record(
    {
      file: record(
        {
          path: string({
            len_max: 1024,
            match: '^/',
            required: true,
            description: 'Absolute path of a JSON-lines file (one SecurityEvent per line), appended to.',
          }),
        },
        { required: false, description: 'JSON-lines file sink (the events as in the event reference).' },
      ),
    },
    { required: true, description: 'Where events are shipped; each sink is optional, several may be set.' },
  ),
} as const;

export const ConfigFields = configFields({ ...EventFields, ...RedactionFields, ...SinkFields });

export const Schema = kongSchema(ConfigFields);
