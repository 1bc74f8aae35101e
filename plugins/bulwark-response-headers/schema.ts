// bulwark-response-headers' config fields, declared once (lib/fields.ts): the Kong schema the plugin server dumps
// (`Schema`, ../../docs/kong-protocol.md §1.12), the parsed type and its reader, and the README table all come from here.
import { configFields, kongSchema, refine, set } from '../lib/fields';
import { headerName } from '../lib/typedefs';

export const MAX_REMOVED_HEADERS = 20;
// Removing these would corrupt the framing of the response Kong sends.
const FRAMING_HEADERS = new Set(['content-length', 'transfer-encoding', 'connection']);

export const ConfigFields = configFields({
  remove: set(
    refine(headerName(), (name) =>
      FRAMING_HEADERS.has(name.toLowerCase()) ? `${name} frames the response and cannot be removed` : undefined,
    ),
    {
      len_min: 1,
      len_max: MAX_REMOVED_HEADERS,
      default: ['Server', 'X-Powered-By', 'Via'],
      description:
        'Upstream response headers removed before the response leaves Kong (every value of each). Case-insensitive. Costs one round trip per name.',
    },
  ),
});

export const Schema = kongSchema(ConfigFields);
