// bulwark-response-headers' one phase handler.
//
// RPC budget: response: one response.clearHeader per configured name (3 with the default list). Clearing an
// absent header is a no-op, so there is no getHeaders first: that would save a round trip only when few of the
// names are present, and Kong's get_headers stops at 100 headers, so a header past the 100th would be missed.
//
// Kong runs `response` handlers only for proxied requests, after it has read the whole upstream response
// (buffered proxying). Kong's own responses (kong.response.exit from any plugin, router 404s) never reach it.
import type { PhaseContext } from '../lib/plugin';
import type { ResponseHeadersConfig } from './config';

export async function response({ kong, conf }: PhaseContext<ResponseHeadersConfig>): Promise<void> {
  for (const name of conf.remove) await kong.response.clearHeader(name);
}
