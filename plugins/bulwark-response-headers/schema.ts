// The Kong schema of bulwark-response-headers' config (the `Schema` export kong-pdk dumps; ../../docs/kong-protocol.md
// §1.12).

export const MAX_REMOVED_HEADERS = 20;

export const Schema = [
  {
    remove: {
      type: 'set',
      elements: { type: 'string', match: '^[%w%-]+$', len_max: 128 },
      len_min: 1,
      len_max: MAX_REMOVED_HEADERS,
      default: ['Server', 'X-Powered-By', 'Via'],
      description:
        'Upstream response headers removed before the response leaves Kong (every value of each). Case-insensitive. Costs one round trip per name.',
    },
  },
];
